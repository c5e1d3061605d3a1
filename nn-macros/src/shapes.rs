//! The shapes along the chain: each layer's input is checked against what the layer before it
//! yields, and its output computed, as PyTorch would find at run time. Every rule reports at
//! the token that is wrong, with the numbers that disagree. Sizes given as constants flow on as
//! expressions, and what the macro cannot decide becomes a check for the compiler, in the same
//! words.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::check::{describe, Argument, Resolved};
use crate::errors::Errors;
use crate::flat::Entry;
use crate::layers::Kind;
use crate::model::{Condition, ConstCheck, Shape, SizeConst, Width};
use crate::names::Names;

/// What flows out of the layers so far: its shape, how a message names where it comes from
/// (`` `fc1` before it ``, `` `Flatten` ``) and how it says what that yields (`128`,
/// `125 (25 channels × 5)`).
#[derive(Clone)]
struct Flow {
    shape: Shape,
    source: String,
    yields: String,
}

impl Flow {
    fn after(entry: &Entry, shape: Shape) -> Flow {
        Flow {
            yields: shape.text(),
            source: format!("{} before it", describe(entry.call)),
            shape,
        }
    }
}

/// The sizes computed from constants so far, each held by a constant of the generated code, and
/// names for them that no identifier of the call uses.
pub(crate) struct Sizes {
    names: Names,
    pub defined: Vec<SizeConst>,
}

impl Sizes {
    /// Sizes named apart from every identifier in `taken`.
    pub fn new(taken: impl IntoIterator<Item = String>) -> Sizes {
        Sizes {
            names: Names::new(taken),
            defined: Vec::new(),
        }
    }

    /// The constant holding `value`, the output `axis` of the layer `layer` (its label, or its
    /// kind and position: `conv2`), written `text` in messages.
    fn define(
        &mut self,
        entry: &Entry,
        layer: &str,
        axis: &str,
        value: (TokenStream, String),
    ) -> Width {
        let (value, text) = value;
        let name = self.names.fresh(&format!("{layer}_{axis}").to_uppercase());
        let width = Width::named(&name, text.clone(), entry.call.name.span());
        self.defined.push(SizeConst {
            doc: format!("{}'s output {axis}, `{text}`.", describe(entry.call)),
            name,
            value,
        });
        width
    }
}

/// Checks every layer's input and returns each entry's output shape (unknown ones, after an
/// error, as one feature), with the checks left to the compiler and the sizes they need.
pub(crate) fn check(
    entries: &[Entry],
    resolved: &[Resolved],
    arguments: &[Vec<Argument>],
    sizes: &mut Sizes,
    errors: &mut Errors,
) -> (Vec<Shape>, Vec<ConstCheck>) {
    let mut checks = Vec::new();
    let mut shapes = Vec::new();
    // `None` once a shape is unknown (an argument was wrong), until a layer sets it again.
    let mut flow: Option<Flow> = None;
    // The flow into each open `Residual`, and its entry.
    let mut open: Vec<(Option<Flow>, usize)> = Vec::new();
    // Whether a layer with parameters has come yet: before one, after `Input`, only `Flatten`.
    // A chain that does not start with `Input` starts with one (or `check` said it should).
    let mut computed =
        !matches!(resolved.first(), Some(Resolved::Builtin(spec)) if spec.kind == Kind::Input);
    let mut parameters = computed;
    for (index, ((entry, kind), args)) in entries.iter().zip(resolved).zip(arguments).enumerate() {
        let call = entry.call;
        // What names the layer's sizes: `conv1`, or `conv2` for an unlabelled one at 2.
        let layer = |snake: &str| match &call.label {
            Some(label) => label.unraw().to_string(),
            None => format!("{snake}{}", entry.suffix()),
        };
        let Resolved::Builtin(spec) = kind else {
            if !computed {
                before_parameters(entry, errors);
            }
            shapes.push(known(&flow));
            close(
                entries,
                index,
                &mut flow,
                &mut open,
                &mut shapes,
                &mut checks,
                errors,
            );
            continue;
        };
        match spec.kind {
            Kind::Input => {
                flow = match (&args[..], index) {
                    (
                        [Argument::Integer(channels), Argument::Integer(length), Argument::Integer(width)],
                        0,
                    ) => {
                        // `Input(C, L)`: its width is the default, 0, which no one can write.
                        let size = match width.value() {
                            Some(0) => vec![length.clone()],
                            _ => vec![length.clone(), width.clone()],
                        };
                        let shape = Shape::Spatial {
                            channels: channels.clone(),
                            size,
                        };
                        Some(Flow {
                            yields: shape.text(),
                            source: format!("{} before it", describe(call)),
                            shape,
                        })
                    }
                    _ => None,
                };
            }
            Kind::Linear => {
                computed = true;
                parameters = true;
                if let (Some(before), Some(Argument::Width(inputs))) = (&flow, args.first()) {
                    linear_inputs(entry, inputs, before, &mut checks, errors);
                }
                flow = match args.get(1) {
                    Some(Argument::Width(outputs)) => {
                        Some(Flow::after(entry, Shape::Features(outputs.clone())))
                    }
                    _ => None,
                };
            }
            Kind::Conv { dims } => {
                computed = true;
                parameters = true;
                let mut shapes = Walk {
                    checks: &mut checks,
                    sizes,
                    errors,
                };
                flow = convolution(
                    entry,
                    &layer(spec.snake),
                    dims,
                    args,
                    flow.as_ref(),
                    &mut shapes,
                )
                .map(|shape| Flow::after(entry, shape));
            }
            Kind::MaxPool { dims } | Kind::AvgPool { dims } => {
                computed = true;
                let mut shapes = Walk {
                    checks: &mut checks,
                    sizes,
                    errors,
                };
                flow = pool(
                    entry,
                    &layer(spec.snake),
                    dims,
                    args,
                    flow.as_ref(),
                    &mut shapes,
                )
                .map(|shape| Flow::after(entry, shape));
            }
            Kind::GlobalAvgPool { dims } => {
                computed = true;
                flow = global_average(entry, dims, args, flow.as_ref(), &mut checks, errors)
                    .map(|shape| Flow::after(entry, shape));
            }
            Kind::BatchNorm { dims } => {
                computed = true;
                parameters = true;
                if let (Some(before), Some(Argument::Integer(features))) = (&flow, args.first()) {
                    batch_norm(entry, dims, features, before, &mut checks, errors);
                }
                flow = flow.map(|before| Flow::after(entry, before.shape));
            }
            Kind::LayerNorm => {
                computed = true;
                parameters = true;
                if let (Some(before), Some(Argument::Integer(features))) = (&flow, args.first()) {
                    layer_norm(entry, features, before, &mut checks, errors);
                }
                flow = flow.map(|before| Flow::after(entry, before.shape));
            }
            Kind::Flatten => {
                if let Some(Flow {
                    shape: shape @ Shape::Spatial { channels, size },
                    ..
                }) = &flow
                {
                    let width = shape.width();
                    let sizes: Vec<String> = size.iter().map(Width::show).collect();
                    flow = Some(Flow {
                        yields: format!(
                            "{} ({} channel{} × {})",
                            width.show(),
                            channels.show(),
                            if channels.value() == Some(1) { "" } else { "s" },
                            sizes.join(" × ")
                        ),
                        shape: Shape::Features(width),
                        source: "`Flatten`".to_owned(),
                    });
                }
            }
            Kind::Residual => {
                residual_starts_with_parameters(entries, resolved, index, errors);
                open.push((flow.clone(), index));
            }
            Kind::Dropout | Kind::Activation(_) => {
                if !computed {
                    before_parameters(entry, errors);
                }
            }
        }
        shapes.push(known(&flow));
        close(
            entries,
            index,
            &mut flow,
            &mut open,
            &mut shapes,
            &mut checks,
            errors,
        );
    }
    if let (false, Some(first)) = (parameters, entries.first()) {
        errors.push_spanned(
            &first.call.name,
            "a network needs a layer with parameters, such as `Linear` or `Conv1d`",
        );
    }
    (shapes, checks)
}

/// The shape of `flow`, or one feature where it is unknown (the network has errors then).
fn known(flow: &Option<Flow>) -> Shape {
    flow.as_ref().map_or_else(
        || Shape::Features(Width::literal(1)),
        |flow| flow.shape.clone(),
    )
}

/// Rejects an activation or dropout between `Input` and the first layer with parameters.
fn before_parameters(entry: &Entry, errors: &mut Errors) {
    errors.push_spanned(
        &entry.call.name,
        format!(
            "`{}` comes before any layer that computes; after `Input`, start with a convolution or a pool, or with `Flatten -> Linear`",
            entry.call.text()
        ),
    );
}

/// A `Residual`'s chain must open with a layer with parameters, which its first stage needs.
fn residual_starts_with_parameters(
    entries: &[Entry],
    resolved: &[Resolved],
    index: usize,
    errors: &mut Errors,
) {
    let residual = &entries[index];
    if residual.call.body.is_none() {
        // `Residual` without its chain: `check` reported it.
        return;
    }
    if residual.closes > 0 {
        // `Residual()`: its body is empty.
        errors.push_spanned(
            residual.call,
            "a `Residual` needs at least one layer, such as `Residual(Linear(64, 64) -> ReLU)`",
        );
        return;
    }
    let Some(first) = entries.get(index + 1) else {
        return;
    };
    let opens = match &resolved[index + 1] {
        Resolved::Builtin(spec) => spec.has_parameters(),
        // A near miss of a built-in name, reported already.
        Resolved::Unknown => true,
        Resolved::Custom => false,
    };
    if !opens {
        errors.push_spanned(
            &first.call.name,
            format!(
                "a `Residual`'s chain must start with a layer with parameters, such as `Linear` or `Conv1d`; found `{}`",
                first.call.text()
            ),
        );
    }
}

/// Ends the `Residual`s that close after entry `index`: each must give back the shape it took.
fn close(
    entries: &[Entry],
    index: usize,
    flow: &mut Option<Flow>,
    open: &mut Vec<(Option<Flow>, usize)>,
    shapes: &mut [Shape],
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    for _ in 0..entries[index].closes {
        let Some((before, residual)) = open.pop() else {
            return;
        };
        if let (Some(input), Some(output)) = (&before, &*flow) {
            same_shape(entries[residual].call, input, output, checks, errors);
        }
        shapes[residual] = known(&before);
        *flow = before.map(|before| Flow {
            source: "the `Residual` before it".to_owned(),
            ..before
        });
    }
}

/// How two sizes compare, as far as the macro can tell.
enum Comparison {
    Same,
    Differ,
    /// A constant is involved: the compiler decides.
    Unknown,
}

fn compare(a: &Width, b: &Width) -> Comparison {
    match (a.value(), b.value()) {
        (Some(a), Some(b)) if a != b => Comparison::Differ,
        _ if a == b => Comparison::Same,
        _ => Comparison::Unknown,
    }
}

/// A check for the compiler on `widths`, which only means anything where they do.
fn const_check(
    condition: TokenStream,
    message: String,
    span: Span,
    widths: &[&Width],
) -> ConstCheck {
    let mut requires: Vec<Condition> = Vec::new();
    for condition in widths.iter().flat_map(|width| width.requires()) {
        if !requires.contains(condition) {
            requires.push(condition.clone());
        }
    }
    ConstCheck {
        condition,
        message,
        span,
        requires,
    }
}

/// Requires `written == found`, `written` being the argument that is wrong if they differ: an
/// error at it when both are numbers that differ, else, when a constant leaves it open, a check
/// for the compiler. `message(difference)` words the mistake; the compiler's check adds
/// `difference` (`", a different width"`), as its message is read without the numbers.
fn require_equal(
    written: &Width,
    found: &Width,
    message: impl Fn(&str) -> String,
    difference: &str,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    match compare(written, found) {
        Comparison::Same => {}
        Comparison::Differ => errors.push(written.span(), message("")),
        Comparison::Unknown => checks.push(const_check(
            quote!(#written == #found),
            message(difference),
            written.span(),
            &[written, found],
        )),
    }
}

/// `x + chain(x)` needs the chain to keep the shape.
fn same_shape(
    residual: &crate::parse::LayerCall,
    input: &Flow,
    output: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let describe = |shape: &Shape| match shape {
        Shape::Features(width) => format!("{} features", width.show()),
        Shape::Spatial { .. } => format!("shape {}", shape.text()),
    };
    let message = format!(
        "`Residual` adds its input, {}, to its chain's output, {}: the chain must keep the shape",
        describe(&input.shape),
        describe(&output.shape)
    );
    let (before, after) = (input.shape.spatial_dims(), output.shape.spatial_dims());
    let pairs: Vec<(Width, Width)> = match (&input.shape, &output.shape) {
        (Shape::Features(a), Shape::Features(b)) => vec![(a.clone(), b.clone())],
        (Shape::Spatial { .. }, Shape::Spatial { .. }) if before.len() == after.len() => {
            before.into_iter().zip(after).collect()
        }
        _ => {
            errors.push_spanned(&residual.name, message);
            return;
        }
    };
    let mut unknown = Vec::new();
    for (a, b) in &pairs {
        match compare(a, b) {
            Comparison::Same => {}
            Comparison::Differ => {
                errors.push_spanned(&residual.name, message);
                return;
            }
            Comparison::Unknown => unknown.push((a, b)),
        }
    }
    if unknown.is_empty() {
        return;
    }
    let conditions = unknown.iter().map(|(a, b)| quote!(#a == #b));
    let widths: Vec<&Width> = unknown.iter().flat_map(|(a, b)| [*a, *b]).collect();
    checks.push(const_check(
        quote!(#(#conditions)&&*),
        message,
        residual.name.segments[0].ident.span(),
        &widths,
    ));
}

/// `AdaptiveAvgPool1d(1)` / `AdaptiveAvgPool2d(1)`: one value per channel.
fn global_average(
    entry: &Entry,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) -> Option<Shape> {
    let name = describe(entry.call);
    let size = args.first()?.integer()?;
    let message = format!("{name}: only an output size of 1, each channel's average, is supported");
    match size.value() {
        Some(1) => {}
        Some(_) => {
            errors.push(size.span(), message);
            return None;
        }
        None => checks.push(const_check(quote!(#size == 1), message, size.span(), &[])),
    }
    let (channels, _) = spatial_input(entry, dims, before?, errors)?;
    Some(Shape::Spatial {
        channels: channels.clone(),
        size: vec![Width::literal(1); dims],
    })
}

/// A batch normalisation's features: the channels of its input, or its features for
/// `BatchNorm1d` after a `Linear`.
fn batch_norm(
    entry: &Entry,
    dims: usize,
    features: &Width,
    before: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let name = describe(entry.call);
    let (found, what) = match (&before.shape, dims) {
        (Shape::Spatial { channels, size }, _) if size.len() == dims => (channels, "channels"),
        (Shape::Features(width), 1) => (width, "features"),
        _ => {
            let wanted = match dims {
                1 => "features or (channels, length)",
                _ => "(channels, height, width)",
            };
            errors.push_spanned(
                &entry.call.name,
                format!(
                    "{name} takes {wanted}, but {} yields shape {}",
                    before.source,
                    before.shape.text()
                ),
            );
            return;
        }
    };
    let source = &before.source;
    let message = |difference: &str| {
        format!(
            "{name} normalises {} {what}, but {source} yields {}{difference}",
            features.show(),
            found.show()
        )
    };
    require_equal(
        features,
        found,
        message,
        ", a different number",
        checks,
        errors,
    );
}

/// `LayerNorm` normalises each row's features, so it takes the width before it.
fn layer_norm(
    entry: &Entry,
    features: &Width,
    before: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let name = describe(entry.call);
    let source = &before.source;
    let width = match &before.shape {
        Shape::Features(width) => width,
        Shape::Spatial { .. } => {
            errors.push_spanned(
                &entry.call.name,
                format!(
                    "{name} normalises features, but {source} yields shape {}; put `Flatten` before it",
                    before.shape.text()
                ),
            );
            return;
        }
    };
    let message = |difference: &str| {
        format!(
            "{name} normalises {} features, but {source} yields {}{difference}",
            features.show(),
            width.show()
        )
    };
    require_equal(
        features,
        width,
        message,
        ", a different width",
        checks,
        errors,
    );
}

/// A `Linear` takes the features the layer before yields, flattened.
///
/// Rejects `fc1: Linear(64, 128) -> ReLU -> fc2: Linear(64, 2)` and `Conv1d(…) -> Linear(…)`.
fn linear_inputs(
    entry: &Entry,
    inputs: &Width,
    before: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let name = describe(entry.call);
    let Flow {
        shape,
        source,
        yields,
    } = before;
    let previous = match shape {
        Shape::Features(width) => width,
        Shape::Spatial { .. } => {
            errors.push_spanned(
                &entry.call.name,
                format!(
                    "{name} takes features, but {source} yields shape {yields}; put `Flatten` between them"
                ),
            );
            return;
        }
    };
    // Linear(20, HIDDEN) -> Linear(HIDDEN, 3): the same constant, nothing to check.
    let message = |difference: &str| {
        format!(
            "{name} takes {} inputs, but {source} yields {yields}{difference}",
            inputs.show()
        )
    };
    require_equal(
        inputs,
        previous,
        message,
        ", a different width",
        checks,
        errors,
    );
}

/// The channels and spatial size of the input of a layer of `dims` dimensions, or an error at
/// its name if the layer before yields features or another number of dimensions.
fn spatial_input<'a>(
    entry: &Entry,
    dims: usize,
    before: &'a Flow,
    errors: &mut Errors,
) -> Option<(&'a Width, &'a [Width])> {
    let name = describe(entry.call);
    let wanted = match dims {
        1 => "(channels, length)",
        _ => "(channels, height, width)",
    };
    match &before.shape {
        Shape::Spatial { channels, size } if size.len() == dims => Some((channels, size)),
        Shape::Spatial { .. } => {
            errors.push_spanned(
                &entry.call.name,
                format!(
                    "{name} takes {wanted}, but {} yields shape {}",
                    before.source,
                    before.shape.text()
                ),
            );
            None
        }
        Shape::Features(_) => {
            let kind = if entry.call.name.is_ident("Conv1d") || entry.call.name.is_ident("Conv2d") {
                "convolutions"
            } else {
                "pools"
            };
            errors.push_spanned(
                &entry.call.name,
                format!(
                    "{name} takes {wanted}, but {} yields {} features; {kind} come before `Flatten`",
                    before.source,
                    before.shape.text()
                ),
            );
            None
        }
    }
}

/// What an axis of a spatial shape of `dims` dimensions is called in messages.
fn axis_name(dims: usize, axis: usize) -> &'static str {
    match (dims, axis) {
        (1, _) => "length",
        (_, 0) => "height",
        _ => "width",
    }
}

/// What a window's checks write to: the checks left to the compiler, the sizes they need, and
/// the errors.
struct Walk<'a> {
    checks: &'a mut Vec<ConstCheck>,
    sizes: &'a mut Sizes,
    errors: &'a mut Errors,
}

/// A window's settings: its taps, how far it moves, the zeros added at each end, and the
/// spacing of its taps.
struct Window<'a> {
    kernel: &'a Width,
    stride: &'a Width,
    padding: &'a Width,
    dilation: &'a Width,
}

impl Window<'_> {
    /// The output size along each axis of `size` (the lengths of a `dims`-dimensional input) of
    /// the layer `layer`. A window that does not fit an axis is reported at its kernel, by the
    /// macro where the sizes are numbers and by the compiler where they are not, in the words
    /// `overflow` gives for the input it exceeds (`padded input's 4 (length 2 + 2 × padding 1)`).
    fn outputs(
        &self,
        (entry, layer): (&Entry, &str),
        dims: usize,
        size: &[Width],
        overflow: impl Fn(&str) -> String,
        walk: &mut Walk,
    ) -> Option<Vec<Width>> {
        let reach = Width::window_reach(self.kernel, self.dilation);
        for (axis, length) in size.iter().enumerate() {
            let padded = length.plus(&Width::literal(2).times(self.padding));
            let axis = axis_name(dims, axis);
            let (length_text, padding_text) = (length.show(), self.padding.show());
            match (reach.value(), padded.value()) {
                (Some(reach), Some(padded)) if reach > padded => {
                    walk.errors.push(
                        self.kernel.span(),
                        overflow(&format!(
                            "padded input's {padded} ({axis} {length_text} + 2 × padding {padding_text})"
                        )),
                    );
                    return None;
                }
                (Some(_), Some(_)) => {}
                (_, padded_value) => {
                    let condition = quote!(#reach <= #padded);
                    let padded = match padded_value {
                        Some(padded) => format!(
                            "padded input's {padded} ({axis} {length_text} + 2 × padding {padding_text})"
                        ),
                        None => format!(
                            "padded input ({axis} {length_text} + 2 × padding {padding_text})"
                        ),
                    };
                    // A square input has one check for both axes.
                    if !walk
                        .checks
                        .iter()
                        .any(|c| c.condition.to_string() == condition.to_string())
                    {
                        walk.checks.push(const_check(
                            condition,
                            overflow(&padded),
                            self.kernel.span(),
                            &[length, self.kernel, self.padding, self.dilation],
                        ));
                    }
                }
            }
        }
        let settings = [self.kernel, self.stride, self.padding, self.dilation];
        let mut outputs: Vec<Width> = Vec::new();
        for (axis, length) in size.iter().enumerate() {
            let numbers: Option<Vec<u64>> = std::iter::once(length)
                .chain(settings)
                .map(Width::value)
                .collect();
            outputs.push(match numbers.as_deref() {
                Some(&[length, kernel, stride, padding, dilation]) => {
                    let reach = dilation * (kernel - 1) + 1;
                    Width::literal((length + 2 * padding - reach) / stride + 1)
                }
                // A square input's axes have the same size, held once.
                _ if axis > 0 && size[0] == *length => outputs[0].clone(),
                _ => walk.sizes.define(
                    entry,
                    layer,
                    axis_name(dims, axis),
                    Width::window_output(length, settings),
                ),
            });
        }
        Some(outputs)
    }
}

/// A convolution's input channels, groups and kernel against its input; its output's shape.
///
/// Rejects `Conv1d(24, …)` after 25 channels, a kernel longer than the padded input, groups
/// that do not divide the channels, and a convolution after `Flatten` or a `Linear`.
fn convolution(
    entry: &Entry,
    layer: &str,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    walk: &mut Walk,
) -> Option<Shape> {
    let name = describe(entry.call);
    let integer = |i: usize| args.get(i)?.integer();
    let in_channels = integer(0)?;
    let out_channels = integer(1)?;
    let window = Window {
        kernel: integer(2)?,
        stride: integer(3)?,
        padding: integer(4)?,
        dilation: integer(5)?,
    };
    let groups = integer(6)?;
    let mut valid = true;
    for (channels, what) in [(in_channels, "in_channels"), (out_channels, "out_channels")] {
        let message = format!(
            "{name} has `groups = {}`, which does not divide its {what}, {}",
            groups.text(),
            channels.show()
        );
        match (channels.value(), groups.value()) {
            (_, Some(1)) => {}
            (Some(count), Some(divisor)) => {
                if count % divisor != 0 {
                    walk.errors.push(groups.span(), message);
                    valid = false;
                }
            }
            // No groups at all is the message of a check of its own.
            (_, None) => walk.checks.push(const_check(
                quote!(#groups == 0 || #channels % #groups == 0),
                message,
                groups.span(),
                &[],
            )),
            (None, Some(_)) => walk.checks.push(const_check(
                quote!(#channels % #groups == 0),
                message,
                groups.span(),
                &[],
            )),
        }
    }
    let before = before?;
    let (channels, size) = spatial_input(entry, dims, before, walk.errors)?;
    let (source, yields) = (&before.source, &before.yields);
    let message = |difference: &str| {
        format!(
            "{name} takes {} input channels, but {source} yields {}{difference}: its output is {yields}",
            in_channels.show(),
            channels.show()
        )
    };
    let (checks, errors) = (&mut *walk.checks, &mut *walk.errors);
    require_equal(
        in_channels,
        channels,
        message,
        ", a different number",
        checks,
        errors,
    );
    let (kernel, dilation) = (window.kernel, window.dilation);
    let spans = match (
        dilation.value(),
        Width::window_reach(kernel, dilation).value(),
    ) {
        (Some(1), _) => format!("{} samples", kernel.show()),
        (_, Some(reach)) => format!(
            "{reach} samples (dilation {} × (kernel {} − 1) + 1)",
            dilation.show(),
            kernel.show()
        ),
        _ => format!(
            "dilation {} × (kernel {} − 1) + 1 samples",
            dilation.show(),
            kernel.show()
        ),
    };
    let output = window.outputs(
        (entry, layer),
        dims,
        size,
        |padded| {
            format!(
                "{name}'s kernel spans {spans}, more than its {padded}: the output would be empty"
            )
        },
        walk,
    )?;
    valid.then_some(Shape::Spatial {
        channels: out_channels.clone(),
        size: output,
    })
}

/// A max or average pool's window against its input; its output's shape.
///
/// Rejects a window larger than the padded input (an empty output) and padding over half the
/// window, which PyTorch refuses.
fn pool(
    entry: &Entry,
    layer: &str,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    walk: &mut Walk,
) -> Option<Shape> {
    let name = describe(entry.call);
    let integer = |i: usize| args.get(i)?.integer();
    let kernel = integer(0)?;
    // PyTorch's default stride is the kernel size, written 0 in the catalogue.
    let stride = match integer(1)? {
        stride if stride.value() == Some(0) => kernel,
        stride => stride,
    };
    let padding = integer(2)?;
    let message = format!(
        "{name}'s padding, {}, is more than half its kernel size, {}",
        padding.show(),
        kernel.show()
    );
    match (padding.value(), kernel.value()) {
        (Some(0), _) => {}
        (Some(padding_value), Some(kernel_value)) => {
            if 2 * padding_value > kernel_value {
                walk.errors.push(padding.span(), message);
                return None;
            }
        }
        _ => walk.checks.push(const_check(
            quote!(2 * #padding <= #kernel),
            message,
            padding.span(),
            &[],
        )),
    }
    let (channels, size) = spatial_input(entry, dims, before?, walk.errors)?;
    let window = Window {
        kernel,
        stride,
        padding,
        dilation: &Width::literal(1),
    };
    let output = window.outputs(
        (entry, layer),
        dims,
        size,
        |padded| {
            format!(
                "{name}'s window of {} is larger than its {padded}: the output would be empty",
                kernel.show()
            )
        },
        walk,
    )?;
    Some(Shape::Spatial {
        channels: channels.clone(),
        size: output,
    })
}
