//! The shapes along the chain: each layer's input is checked against what the layer before it
//! yields, and its output computed, as PyTorch would find at run time. Every rule reports at
//! the token that is wrong, with the numbers that disagree; widths given as constants become
//! checks for the compiler.

use proc_macro2::Span;
use quote::quote;

use crate::check::{describe, Argument, Resolved};
use crate::errors::Errors;
use crate::flat::Entry;
use crate::layers::Kind;
use crate::model::{ConstCheck, Shape, Width};

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

/// Checks every layer's input and returns each entry's output shape (unknown ones, after an
/// error, as one feature), with the checks left to the compiler.
pub(crate) fn check(
    entries: &[Entry],
    resolved: &[Resolved],
    arguments: &[Vec<Argument>],
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
                        [Argument::Integer(channels, _), Argument::Integer(length, _), Argument::Integer(width, _)],
                        0,
                    ) => {
                        let size = match width {
                            0 => vec![*length],
                            _ => vec![*length, *width],
                        };
                        let shape = Shape::Spatial {
                            channels: *channels,
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
                flow = convolution(entry, dims, args, flow.as_ref(), errors)
                    .map(|shape| Flow::after(entry, shape));
            }
            Kind::MaxPool { dims } | Kind::AvgPool { dims } => {
                computed = true;
                flow = pool(entry, dims, args, flow.as_ref(), errors)
                    .map(|shape| Flow::after(entry, shape));
            }
            Kind::GlobalAvgPool { dims } => {
                computed = true;
                flow = global_average(entry, dims, args, flow.as_ref(), errors)
                    .map(|shape| Flow::after(entry, shape));
            }
            Kind::BatchNorm { dims } => {
                computed = true;
                parameters = true;
                if let (Some(before), Some(Argument::Integer(features, span))) =
                    (&flow, args.first())
                {
                    batch_norm(entry, dims, *features, *span, before, errors);
                }
                flow = flow.map(|before| Flow::after(entry, before.shape));
            }
            Kind::LayerNorm => {
                computed = true;
                parameters = true;
                if let (Some(before), Some(Argument::Integer(features, span))) =
                    (&flow, args.first())
                {
                    layer_norm(entry, *features, *span, before, &mut checks, errors);
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
                    let sizes: Vec<String> = size.iter().map(u64::to_string).collect();
                    flow = Some(Flow {
                        yields: format!(
                            "{} ({channels} channel{} × {})",
                            width.text(),
                            if *channels == 1 { "" } else { "s" },
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
        || Shape::Features(Width::Literal(1, Span::call_site())),
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

/// `x + chain(x)` needs the chain to keep the shape.
fn same_shape(
    residual: &crate::parse::LayerCall,
    input: &Flow,
    output: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let describe = |shape: &Shape| match shape {
        Shape::Features(width) => format!("{} features", width.text()),
        Shape::Spatial { .. } => format!("shape {}", shape.text()),
    };
    let message = format!(
        "`Residual` adds its input, {}, to its chain's output, {}: the chain must keep the shape",
        describe(&input.shape),
        describe(&output.shape)
    );
    match (&input.shape, &output.shape) {
        (Shape::Features(a), Shape::Features(b)) => match (a, b) {
            (Width::Literal(a, _), Width::Literal(b, _)) if a == b => {}
            (Width::Literal(..), Width::Literal(..)) => {
                errors.push_spanned(&residual.name, message)
            }
            _ if a.text() == b.text() => {}
            _ => checks.push(ConstCheck {
                condition: quote!(#a == #b),
                message,
                span: residual.name.segments[0].ident.span(),
            }),
        },
        (Shape::Spatial { .. }, Shape::Spatial { .. }) if input.shape == output.shape => {}
        _ => errors.push_spanned(&residual.name, message),
    }
}

/// `AdaptiveAvgPool1d(1)` / `AdaptiveAvgPool2d(1)`: one value per channel.
fn global_average(
    entry: &Entry,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    errors: &mut Errors,
) -> Option<Shape> {
    let name = describe(entry.call);
    let (size, span) = args.first()?.integer()?;
    if size != 1 {
        errors.push(
            span,
            format!("{name}: only an output size of 1, each channel's average, is supported"),
        );
        return None;
    }
    let (channels, _) = spatial_input(entry, dims, before?, errors)?;
    Some(Shape::Spatial {
        channels,
        size: vec![1; dims],
    })
}

/// A batch normalisation's features: the channels of its input, or its features for
/// `BatchNorm1d` after a `Linear`.
fn batch_norm(
    entry: &Entry,
    dims: usize,
    features: u64,
    span: Span,
    before: &Flow,
    errors: &mut Errors,
) {
    let name = describe(entry.call);
    let found = match (&before.shape, dims) {
        (Shape::Spatial { channels, size }, _) if size.len() == dims => Some(*channels),
        (Shape::Features(Width::Literal(width, _)), 1) => Some(*width),
        // A constant width: left alone, it is the `Linear`'s to check.
        (Shape::Features(Width::Const(_)), 1) => None,
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
            None
        }
    };
    if let Some(found) = found.filter(|&found| found != features) {
        let what = match before.shape {
            Shape::Features(_) => "features",
            Shape::Spatial { .. } => "channels",
        };
        errors.push(
            span,
            format!(
                "{name} normalises {features} {what}, but {} yields {found}",
                before.source
            ),
        );
    }
}

/// `LayerNorm` normalises each row's features, so it takes the width before it.
fn layer_norm(
    entry: &Entry,
    features: u64,
    span: Span,
    before: &Flow,
    checks: &mut Vec<ConstCheck>,
    errors: &mut Errors,
) {
    let name = describe(entry.call);
    match &before.shape {
        Shape::Features(Width::Literal(width, _)) if *width != features => errors.push(
            span,
            format!(
                "{name} normalises {features} features, but {} yields {width}",
                before.source
            ),
        ),
        Shape::Features(Width::Literal(..)) => {}
        Shape::Features(width) => checks.push(ConstCheck {
            condition: {
                let features = proc_macro2::Literal::u64_unsuffixed(features);
                quote!(#width == #features)
            },
            message: format!(
                "{name} normalises {features} features, but {} yields `{}`, a different width",
                before.source,
                width.text()
            ),
            span,
        }),
        Shape::Spatial { .. } => errors.push_spanned(
            &entry.call.name,
            format!(
                "{name} normalises features, but {} yields shape {}; put `Flatten` before it",
                before.source,
                before.shape.text()
            ),
        ),
    }
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
    match (inputs, previous) {
        (Width::Literal(a, span), Width::Literal(b, _)) if a != b => errors.push(
            *span,
            format!("{name} takes {a} inputs, but {source} yields {yields}"),
        ),
        (Width::Literal(..), Width::Literal(..)) => {}
        // Linear(20, HIDDEN) -> Linear(HIDDEN, 3): the same constant, nothing to check.
        (Width::Const(..), Width::Const(..)) if inputs.text() == previous.text() => {}
        _ => checks.push(ConstCheck {
            condition: quote!(#inputs == #previous),
            message: format!(
                "{name} takes `{}` inputs, but {source} yields `{}`, a different width",
                inputs.text(),
                previous.text()
            ),
            span: inputs.span(),
        }),
    }
}

/// The spatial size of the input of a layer of `dims` dimensions, or an error at its name if
/// the layer before yields features or another number of dimensions.
fn spatial_input<'a>(
    entry: &Entry,
    dims: usize,
    before: &'a Flow,
    errors: &mut Errors,
) -> Option<(u64, &'a [u64])> {
    let name = describe(entry.call);
    let wanted = match dims {
        1 => "(channels, length)",
        _ => "(channels, height, width)",
    };
    match &before.shape {
        Shape::Spatial { channels, size } if size.len() == dims => Some((*channels, size)),
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

/// The output size along one axis of `length` samples: `⌊(length + 2·padding − reach) /
/// stride⌋ + 1` for a window reaching `reach` samples, or `None` when the window does not fit.
fn output_length(length: u64, padding: u64, reach: u64, stride: u64) -> Option<u64> {
    let padded = length + 2 * padding;
    (reach <= padded).then(|| (padded - reach) / stride + 1)
}

/// The output size along each axis of `size` (the lengths of a `dims`-dimensional input) for a
/// window reaching `reach` samples, or, for the first axis it does not fit, how to say so:
/// `height 2 + 2 × padding 0`, and the padded length.
fn window_outputs(
    dims: usize,
    size: &[u64],
    padding: u64,
    reach: u64,
    stride: u64,
) -> Result<Vec<u64>, (String, u64)> {
    size.iter()
        .enumerate()
        .map(|(axis, &length)| {
            output_length(length, padding, reach, stride).ok_or_else(|| {
                let axis = axis_name(dims, axis);
                (
                    format!("{axis} {length} + 2 × padding {padding}"),
                    length + 2 * padding,
                )
            })
        })
        .collect()
}

/// A convolution's input channels, groups and kernel against its input; its output's shape.
///
/// Rejects `Conv1d(24, …)` after 25 channels, a kernel longer than the padded input, groups
/// that do not divide the channels, and a convolution after `Flatten` or a `Linear`.
fn convolution(
    entry: &Entry,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    errors: &mut Errors,
) -> Option<Shape> {
    let name = describe(entry.call);
    let integer = |i: usize| args.get(i)?.integer();
    let (in_channels, in_span) = integer(0)?;
    let (out_channels, _) = integer(1)?;
    let (kernel, kernel_span) = integer(2)?;
    let (stride, _) = integer(3)?;
    let (padding, _) = integer(4)?;
    let (dilation, _) = integer(5)?;
    let (groups, groups_span) = integer(6)?;
    let mut valid = true;
    for (channels, what) in [(in_channels, "in_channels"), (out_channels, "out_channels")] {
        if channels % groups != 0 {
            errors.push(
                groups_span,
                format!(
                    "{name} has `groups = {groups}`, which does not divide its {what}, {channels}"
                ),
            );
            valid = false;
        }
    }
    let before = before?;
    let (channels, size) = spatial_input(entry, dims, before, errors)?;
    if channels != in_channels {
        errors.push(
            in_span,
            format!(
                "{name} takes {in_channels} input channels, but {} yields {channels}: its output is {}",
                before.source, before.yields
            ),
        );
    }
    let reach = dilation * (kernel - 1) + 1;
    let output = match window_outputs(dims, size, padding, reach, stride) {
        Ok(output) => output,
        Err((padded_input, padded)) => {
            let spans = if dilation == 1 {
                format!("{kernel} samples")
            } else {
                format!("{reach} samples (dilation {dilation} × (kernel {kernel} − 1) + 1)")
            };
            errors.push(
                kernel_span,
                format!(
                    "{name}'s kernel spans {spans}, more than its padded input's {padded} ({padded_input}): the output would be empty"
                ),
            );
            return None;
        }
    };
    valid.then_some(Shape::Spatial {
        channels: out_channels,
        size: output,
    })
}

/// A max or average pool's window against its input; its output's shape.
///
/// Rejects a window larger than the padded input (an empty output) and padding over half the
/// window, which PyTorch refuses.
fn pool(
    entry: &Entry,
    dims: usize,
    args: &[Argument],
    before: Option<&Flow>,
    errors: &mut Errors,
) -> Option<Shape> {
    let name = describe(entry.call);
    let integer = |i: usize| args.get(i)?.integer();
    let (kernel, kernel_span) = integer(0)?;
    let (stride, _) = integer(1)?;
    let stride = if stride == 0 { kernel } else { stride };
    let (padding, padding_span) = integer(2)?;
    if 2 * padding > kernel {
        errors.push(
            padding_span,
            format!("{name}'s padding, {padding}, is more than half its kernel size, {kernel}"),
        );
        return None;
    }
    let (channels, size) = spatial_input(entry, dims, before?, errors)?;
    let output = match window_outputs(dims, size, padding, kernel, stride) {
        Ok(output) => output,
        Err((padded_input, padded)) => {
            errors.push(
                kernel_span,
                format!(
                    "{name}'s window of {kernel} is larger than its padded input's {padded} ({padded_input}): the output would be empty"
                ),
            );
            return None;
        }
    };
    Some(Shape::Spatial {
        channels,
        size: output,
    })
}
