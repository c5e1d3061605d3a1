//! Lowering: the checked chain becomes the model that `expand` prints. Every decision about
//! the generated code is made here: names that cannot collide with the user's, which buffer
//! each layer reads and writes, and which activations run inside a matrix product.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
use syn::{Ident, Visibility};

use crate::check::{Argument, Checked, Resolved};
use crate::flat::{self, Entry};
use crate::layers::{Constructor, Kind, LayerSpec};
use crate::model::{
    Activation, BackwardStep, ConvLayer, CustomActivation, ForwardStep, Head, LinearLayer,
    LossGradient, Network, NormLayer, OnnxStep, Op, OpKind, Plan, PoolLayer, Shape, Source, Stage,
    SummaryRow, TypeParams, Width, Workspace,
};
use crate::names::{self, Names};
use crate::parse::NetworkInput;

/// Locals of the generated functions, which buffer bindings must not shadow.
const GENERATED_LOCALS: &[&str] = &[
    "network",
    "x",
    "rows",
    "buffers",
    "input",
    "output",
    "value",
    "target",
    "loss",
    "optimizer",
    "out",
    "grad_output",
    "accumulate",
    "slots",
    "seed",
    "rng",
    "path",
    "visitor",
    "forward_with",
    "record_forward",
    "backward_with",
];

/// Turns the checked chain into the model `expand` writes out.
pub(crate) fn network(input: &NetworkInput, checked: Checked) -> Network {
    let Checked {
        resolved,
        arguments,
        shapes,
        const_checks,
        sizes,
    } = checked;
    let private = crate::runtime::path();
    let entries = flat::entries(&input.chain);
    // A label is written as an identifier (`r#type`) and named without its `r#` (`type.weight`).
    let label_text = |entry: &Entry| entry.call.label.as_ref().map(|l| l.unraw().to_string());
    let base_names: Vec<String> = entries
        .iter()
        .zip(&resolved)
        .map(|(entry, kind)| match kind {
            Resolved::Builtin(spec) => spec.snake.to_owned(),
            _ => snake_case(
                &entry
                    .call
                    .name
                    .segments
                    .last()
                    .map(|s| s.ident.unraw().to_string())
                    .unwrap_or_default(),
            ),
        })
        .collect();
    // Struct fields: the labels as written, then generated names that avoid them.
    let mut fields = Names::new(entries.iter().filter_map(label_text));
    // Buffers are bound to locals named after their layers, apart from the functions' own.
    let mut buffers = Names::new(GENERATED_LOCALS);
    // A buffer is named after its layer; where a name repeats, the position tells them apart.
    let buffer_name = |buffers: &mut Names, index: usize| {
        let base = &base_names[index];
        if base_names.iter().filter(|b| *b == base).count() > 1 {
            buffers.fresh(&format!("{base}{}", entries[index].suffix()))
        } else {
            buffers.fresh(base)
        }
    };
    // How the summary names a layer: indented under its `Residual`, labelled if it has one.
    let display = |entry: &Entry, text: String| {
        let indent = "  ".repeat(entry.depth());
        match label_text(entry) {
            Some(label) => format!("{indent}{label} ({text})"),
            None => format!("{indent}{text}"),
        }
    };

    let mut stages: Vec<Stage> = Vec::new();
    let mut summary: Vec<SummaryRow> = Vec::new();
    let mut onnx: Vec<OnnxStep> = Vec::new();
    if let Some(shape @ Shape::Spatial { .. }) = shapes.first() {
        onnx.push(OnnxStep::ReshapeInput {
            dims: shape.spatial_dims(),
        });
    }
    // Locals of the ONNX writer holding each open `Residual`'s input.
    let mut skips: Vec<Ident> = Vec::new();
    let mut skip_names = Names::new(["graph"]);
    let mut custom_activations = Vec::new();
    let mut convolutions: Vec<TokenStream> = Vec::new();
    // The stage before each open `Residual`'s chain (`None`: the network's input).
    let mut open: Vec<(Option<usize>, usize)> = Vec::new();
    // The shape flowing into the current entry.
    let mut flowing = shapes.first().cloned();
    for (index, ((entry, kind), args)) in entries.iter().zip(&resolved).zip(&arguments).enumerate()
    {
        let layer = entry.call;
        let shape = &shapes[index];
        let mut add_op = |stages: &mut Vec<Stage>, buffer: Ident, kind: OpKind, text: String| {
            if let OpKind::Activation { value } = &kind {
                onnx.push(OnnxStep::Activation {
                    key: entry.key(),
                    value: value.clone(),
                });
            }
            summary.push(SummaryRow {
                display: display(entry, text.clone()),
                shape: shape.dims(),
                params: quote!(0),
            });
            if let Some(stage) = stages.last_mut() {
                stage.ops.push(Op {
                    buffer,
                    kind,
                    display: text,
                });
            }
        };
        match kind {
            Resolved::Builtin(spec) => match spec.kind {
                Kind::Linear => {
                    let width = |i: usize| match &args[i] {
                        Argument::Width(w) => w.clone(),
                        _ => Width::literal(1),
                    };
                    let field = match &layer.label {
                        Some(label) => label.clone(),
                        None => fields.fresh(&format!("linear{}", entry.suffix())),
                    };
                    let key = entry.key();
                    let z = buffers.fresh(&field.unraw().to_string());
                    let (inputs, outputs) = (width(0), width(1));
                    onnx.push(OnnxStep::Linear {
                        key: key.clone(),
                        field: field.clone(),
                    });
                    summary.push(SummaryRow {
                        display: display(entry, layer.text()),
                        shape: vec![outputs.to_token_stream()],
                        params: quote!(#inputs * #outputs + #outputs),
                    });
                    stages.push(stage(
                        &mut buffers,
                        z,
                        outputs.clone(),
                        Head::Linear(Box::new(LinearLayer {
                            field,
                            weight_key: format!("{key}.weight"),
                            bias_key: format!("{key}.bias"),
                            inputs,
                            outputs,
                            display: display(entry, layer.text()).trim_start().to_owned(),
                        })),
                    ));
                }
                Kind::Conv { dims } => {
                    let integer =
                        |i: usize| args[i].integer().cloned().unwrap_or(Width::literal(1));
                    let bias = !matches!(args[7], Argument::Flag(false));
                    // The input's size, which the runtime's settings include.
                    let size = match &flowing {
                        Some(Shape::Spatial { size, .. }) if size.len() == dims => size.clone(),
                        _ => vec![Width::literal(1); dims],
                    };
                    let (cin, cout, k) = (integer(0), integer(1), integer(2));
                    let sizes = [&cin, &cout, &k].into_iter().chain(&size);
                    let settings_type = format_ident!("Conv{}dSettings", dims);
                    let mut settings = quote!(#private::#settings_type::new(#(#sizes),*));
                    for (i, method) in ["stride", "padding", "dilation", "groups"]
                        .iter()
                        .enumerate()
                    {
                        let value = integer(3 + i);
                        let default = u64::from(*method != "padding");
                        // A constant may be the default, or not: it is always passed.
                        if value.value() != Some(default) {
                            let method = format_ident!("{}", method);
                            settings.extend(quote!(.#method(#value)));
                        }
                    }
                    if !bias {
                        settings.extend(quote!(.bias(false)));
                    }
                    let field = match &layer.label {
                        Some(label) => label.clone(),
                        None => fields.fresh(&format!("conv{}", entry.suffix())),
                    };
                    let key = entry.key();
                    let z = buffers.fresh(&field.unraw().to_string());
                    let per_group = Width::per_group(&cin, &integer(6));
                    let taps = Width::product(vec![&k; dims]);
                    let weights = Width::product([&cout, &per_group, &taps]);
                    let parameters = if bias { weights.plus(&cout) } else { weights };
                    summary.push(SummaryRow {
                        display: display(entry, layer.text()),
                        shape: shape.dims(),
                        params: parameters.to_token_stream(),
                    });
                    convolutions.push(settings.clone());
                    onnx.push(OnnxStep::Conv {
                        key: key.clone(),
                        field: field.clone(),
                        passes: format!("conv{dims}d"),
                    });
                    let kernel = vec![k.text(); dims].join(", ");
                    stages.push(stage(
                        &mut buffers,
                        z,
                        shape.width(),
                        Head::Conv(ConvLayer {
                            field,
                            runtime: format_ident!("Conv{}d", dims),
                            passes: format!("conv{dims}d"),
                            weight_key: format!("{key}.weight"),
                            bias_key: format!("{key}.bias"),
                            settings,
                            weight_shape: format!(
                                "[{}, {}, {kernel}]",
                                cout.text(),
                                per_group.text()
                            ),
                            bias,
                            display: display(entry, layer.text()).trim_start().to_owned(),
                        }),
                    ));
                }
                Kind::MaxPool { .. } | Kind::AvgPool { .. } | Kind::GlobalAvgPool { .. } => {
                    // The input's shape, which the runtime's pools are built with.
                    let input = flowing
                        .as_ref()
                        .map(Shape::spatial_dims)
                        .unwrap_or_default();
                    let (base, runtime, value, step) = match spec.kind {
                        Kind::MaxPool { dims } | Kind::AvgPool { dims } => {
                            let integer =
                                |i: usize| args[i].integer().cloned().unwrap_or(Width::literal(1));
                            let (kernel, padding) = (integer(0), integer(2));
                            // PyTorch's default stride, the kernel size, is written 0.
                            let stride = match integer(1) {
                                stride if stride.value() == Some(0) => kernel.clone(),
                                stride => stride,
                            };
                            // Both kinds are built, named and exported alike but for these names:
                            // the field and constructor, the type, the ONNX method.
                            let (base, runtime, method) = match spec.kind {
                                Kind::MaxPool { .. } => {
                                    ("max_pool", format_ident!("MaxPool{}d", dims), "max_pool")
                                }
                                _ => (
                                    "avg_pool",
                                    format_ident!("AvgPool{}d", dims),
                                    "average_pool",
                                ),
                            };
                            let constructor = format_ident!("{base}{}d", dims);
                            let values = input.iter().chain([&kernel, &stride, &padding]);
                            (
                                base,
                                runtime,
                                quote!(#private::#constructor(#(#values),*)),
                                OnnxStep::Pool {
                                    key: entry.key(),
                                    method,
                                    dims,
                                    kernel,
                                    stride,
                                    padding,
                                },
                            )
                        }
                        _ => {
                            let channels = input.first().cloned().unwrap_or(Width::literal(1));
                            let positions = Width::product(input.iter().skip(1));
                            (
                                "avg_pool",
                                format_ident!("GlobalAvgPool"),
                                quote!(#private::global_avg_pool(#channels, #positions)),
                                OnnxStep::GlobalAveragePool { key: entry.key() },
                            )
                        }
                    };
                    let field = fields.fresh(&format!("{base}{}", entry.suffix()));
                    onnx.push(step);
                    let z = buffer_name(&mut buffers, index);
                    summary.push(SummaryRow {
                        display: display(entry, layer.text()),
                        shape: shape.dims(),
                        params: quote!(0),
                    });
                    stages.push(stage(
                        &mut buffers,
                        z,
                        shape.width(),
                        Head::Pool(PoolLayer {
                            field,
                            runtime,
                            value,
                            display: layer.text(),
                        }),
                    ));
                }
                Kind::BatchNorm { .. } | Kind::LayerNorm => {
                    let features = args[0].integer().cloned().unwrap_or(Width::literal(1));
                    let number = |i: usize| match &args[i] {
                        Argument::Number(tokens) => tokens.clone(),
                        _ => quote!(0.0f32),
                    };
                    let (passes, runtime, value, batch_statistics) = match spec.kind {
                        Kind::BatchNorm { .. } => {
                            // Values per channel: 1 for features, else the spatial size.
                            let positions = match &flowing {
                                Some(Shape::Spatial { size, .. }) => Width::product(size),
                                _ => Width::literal(1),
                            };
                            let (eps, momentum) = (number(1), number(2));
                            (
                                "batch_norm",
                                "BatchNorm",
                                quote!(#private::batch_norm(#features, #positions, #eps, #momentum)),
                                true,
                            )
                        }
                        _ => {
                            let eps = number(1);
                            let affine = !matches!(args[2], Argument::Flag(false));
                            (
                                "layer_norm",
                                "LayerNorm",
                                quote!(#private::layer_norm(#features, #eps, #affine)),
                                false,
                            )
                        }
                    };
                    let field = match &layer.label {
                        Some(label) => label.clone(),
                        None => fields.fresh(&format!("{passes}{}", entry.suffix())),
                    };
                    let key = entry.key();
                    let z = buffers.fresh(&field.unraw().to_string());
                    onnx.push(OnnxStep::Norm {
                        key: key.clone(),
                        field: field.clone(),
                        passes: passes.to_owned(),
                    });
                    // Weight and bias, one each per feature or channel (none for a LayerNorm
                    // without an affine transform).
                    let affine = !matches!(args.get(2), Some(Argument::Flag(false)))
                        || matches!(spec.kind, Kind::BatchNorm { .. });
                    summary.push(SummaryRow {
                        display: display(entry, layer.text()),
                        shape: shape.dims(),
                        params: if affine {
                            quote!(2 * #features)
                        } else {
                            quote!(0)
                        },
                    });
                    stages.push(stage(
                        &mut buffers,
                        z,
                        shape.width(),
                        Head::Norm(NormLayer {
                            field,
                            runtime: format_ident!("{}", runtime),
                            value,
                            passes: passes.to_owned(),
                            batch_statistics,
                            weight_key: format!("{key}.weight"),
                            bias_key: format!("{key}.bias"),
                            key,
                            display: display(entry, layer.text()).trim_start().to_owned(),
                        }),
                    ));
                }
                Kind::Input => {}
                Kind::Flatten => {
                    onnx.push(OnnxStep::Flatten { key: entry.key() });
                    summary.push(SummaryRow {
                        display: display(entry, layer.text()),
                        shape: shape.dims(),
                        params: quote!(0),
                    });
                }
                Kind::Residual => {
                    open.push((stages.len().checked_sub(1), index));
                    let skip = skip_names.fresh(&format!("skip{}", entry.suffix()));
                    onnx.push(OnnxStep::Skip { skip: skip.clone() });
                    skips.push(skip);
                    summary.push(SummaryRow {
                        display: display(entry, "Residual".to_owned()),
                        shape: shape.dims(),
                        params: quote!(0),
                    });
                }
                Kind::Dropout => {
                    let buffer = buffer_name(&mut buffers, index);
                    let kind = OpKind::Dropout {
                        field: fields.fresh(&format!("dropout{}", entry.suffix())),
                        mask: buffers.fresh(&format!("{}_mask", buffer.unraw())),
                        p: match &args[0] {
                            Argument::Number(p) => p.clone(),
                            _ => quote!(0.5f32),
                        },
                    };
                    add_op(&mut stages, buffer, kind, layer.text());
                }
                Kind::Activation(constructor) => {
                    let kind = OpKind::Activation {
                        value: activation_value(spec, constructor, args),
                    };
                    add_op(
                        &mut stages,
                        buffer_name(&mut buffers, index),
                        kind,
                        layer.text(),
                    );
                }
            },
            Resolved::Custom | Resolved::Unknown => {
                let path = &layer.name;
                let value = match &layer.args {
                    Some(args) => {
                        let list = &args.list;
                        quote!(#path(#list))
                    }
                    None => quote!(#path),
                };
                let function = format_ident!("activation{}", entry.suffix());
                let call = quote!(#function());
                custom_activations.push(CustomActivation {
                    function,
                    value,
                    path: path.clone(),
                });
                let buffer = buffer_name(&mut buffers, index);
                add_op(
                    &mut stages,
                    buffer,
                    OpKind::Activation { value: call },
                    layer.text(),
                );
            }
        }
        for _ in 0..entry.closes {
            let Some((skip, residual)) = open.pop() else {
                break;
            };
            let z = buffer_name(&mut buffers, residual);
            if let Some(skip) = skips.pop() {
                onnx.push(OnnxStep::Residual {
                    key: entries[residual].key(),
                    skip,
                });
            }
            let branch = stages.len() - 1;
            stages.push(stage(
                &mut buffers,
                z,
                shapes[residual].width(),
                Head::Sum { skip, branch },
            ));
        }
        flowing = Some(shape.clone());
    }

    let spec = input.chain.text();
    let (attrs, vis, name, anonymous) = match &input.item {
        Some(item) => (
            item.attrs.clone(),
            item.vis.clone(),
            item.name.clone(),
            false,
        ),
        None => (
            Vec::new(),
            Visibility::Inherited,
            Ident::new("Network", Span::call_site()),
            true,
        ),
    };
    // Type parameters must not shadow a type or constant the call names (`struct R`, `Linear(L, 4)`).
    let mut used = names::identifiers(input.chain.to_token_stream());
    used.insert(name.to_string());
    let mut type_names = Names::new(used);
    let type_params = TypeParams {
        rng: type_names.fresh("R"),
        loss: type_names.fresh("L"),
        optimizer: type_names.fresh("O"),
        path: type_names.fresh("P"),
        visitor: type_names.fresh("V"),
    };
    let input_width = match (shapes.first(), stages.first().map(|s| &s.head)) {
        (Some(shape @ Shape::Spatial { .. }), _) => Some(shape.width()),
        (_, Some(Head::Linear(linear))) => Some(linear.inputs.clone()),
        _ => None,
    };
    let output_width = stages.last().map(|s| s.outputs.clone());
    let workspace = (!convolutions.is_empty()).then(|| Workspace {
        binding: buffers.fresh("workspace"),
        width: quote!(#private::widest(&[#(#convolutions.workspace_per_row()),*])),
    });
    let plan = plan(&stages, workspace.as_ref().map(|w| &w.binding));
    Network {
        attrs,
        vis,
        name,
        anonymous,
        input: input_width.unwrap_or(Width::literal(1)),
        output: output_width.unwrap_or(Width::literal(1)),
        stages,
        workspace,
        summary,
        onnx,
        spec,
        const_checks,
        sizes,
        custom_activations,
        buffers_field: fields.fresh("buffers"),
        type_params,
        plan,
    }
}

/// A stage whose head writes the buffer `z`, `outputs` values per row, with the buffer of its
/// gradient named after it.
fn stage(buffers: &mut Names, z: Ident, outputs: Width, head: Head) -> Stage {
    Stage {
        grad: buffers.fresh(&format!("d_{}", z.unraw())),
        z,
        outputs,
        head,
        ops: Vec::new(),
    }
}

/// The steps of every pass over `stages`, with the fusion rules of [`Plan`] applied.
fn plan(stages: &[Stage], workspace: Option<&Ident>) -> Plan {
    let evaluation = forward_steps(stages, workspace, false);
    // Training differs from evaluation with dropout, and with batch statistics.
    let has_dropout = stages
        .iter()
        .flat_map(|stage| &stage.ops)
        .any(|op| matches!(op.kind, OpKind::Dropout { .. }))
        || stages
            .iter()
            .any(|stage| matches!(&stage.head, Head::Norm(norm) if norm.batch_statistics));
    let last = stages.last().expect("checked: at least one layer");
    Plan {
        evaluation,
        training: has_dropout.then(|| forward_steps(stages, workspace, true)),
        evaluation_output: evaluation_output(last).clone(),
        training_output: training_output(last).clone(),
        loss: LossGradient {
            activation: loss_activation(last),
            grad: last.grad.clone(),
            width: last.outputs.clone(),
        },
        backward: backward_steps(stages, workspace),
    }
}

/// The buffer op `index` of `stage` reads in training: the op before it, or the head's output.
fn training_input(stage: &Stage, index: usize) -> &Ident {
    match index {
        0 => &stage.z,
        _ => &stage.ops[index - 1].buffer,
    }
}

/// The buffer holding a stage's output in training.
fn training_output(stage: &Stage) -> &Ident {
    stage.ops.last().map_or(&stage.z, |op| &op.buffer)
}

/// The buffer holding a stage's output in evaluation, where dropout is skipped.
fn evaluation_output(stage: &Stage) -> &Ident {
    stage
        .ops
        .iter()
        .rev()
        .find(|op| matches!(op.kind, OpKind::Activation { .. }))
        .map_or(&stage.z, |op| &op.buffer)
}

/// Op `index` of `stage` as an activation reading its training input, if it is one.
fn activation_at(stage: &Stage, index: usize) -> Option<Activation> {
    let op = stage.ops.get(index)?;
    match &op.kind {
        OpKind::Activation { value } => Some(Activation {
            value: value.clone(),
            input: training_input(stage, index).clone(),
            output: op.buffer.clone(),
        }),
        OpKind::Dropout { .. } => None,
    }
}

/// The identity over `buffer`: the derivative to apply where no activation is.
fn identity(buffer: &Ident) -> Activation {
    let private = crate::runtime::path();
    Activation {
        value: quote!(#private::Identity),
        input: buffer.clone(),
        output: buffer.clone(),
    }
}

/// A stage's last op, if it is an activation: the one whose derivative may be applied
/// elsewhere (by the loss, the next `Linear`'s input-gradient product, or a residual sum).
fn last_activation(stage: &Stage) -> Option<Activation> {
    activation_at(stage, stage.ops.len().checked_sub(1)?)
}

/// What the loss differentiates through: the network's last op if it is an activation, else the
/// identity over the last output.
fn loss_activation(last: &Stage) -> Activation {
    last_activation(last).unwrap_or_else(|| identity(training_output(last)))
}

/// Whether the derivative of stage `k`'s last activation is applied by what reads its output:
/// the loss, the next `Linear`'s input-gradient product, or the residual sum ending after it.
/// Not when a residual sum also reads it by its skip connection: that gradient must be added
/// first. A convolution's input gradient does not apply it either.
fn folds_last_derivative(stages: &[Stage], k: usize) -> bool {
    let skipped = stages
        .iter()
        .any(|stage| matches!(stage.head, Head::Sum { skip: Some(skip), .. } if skip == k));
    match stages.get(k + 1).map(|next| &next.head) {
        None => true,
        Some(Head::Linear(_) | Head::Sum { .. }) => !skipped,
        Some(Head::Conv(_) | Head::Pool(_) | Head::Norm(_)) => false,
    }
}

/// One forward pass: each head (a `Linear` with its first activation fused in), then the
/// stage's other ops; in evaluation, dropout is left out.
fn forward_steps(stages: &[Stage], workspace: Option<&Ident>, training: bool) -> Vec<ForwardStep> {
    let mut steps = Vec::new();
    // Each stage's output in this pass.
    let mut outputs: Vec<Ident> = Vec::new();
    for stage in stages {
        let input = outputs
            .last()
            .map_or(Source::Input, |o| Source::Buffer(o.clone()));
        let ops: Vec<&Op> = stage
            .ops
            .iter()
            .filter(|op| training || matches!(op.kind, OpKind::Activation { .. }))
            .collect();
        let z = &stage.z;
        let mut fused = None;
        match &stage.head {
            Head::Linear(linear) => {
                fused = match ops.first().map(|op| (&op.kind, &op.buffer)) {
                    Some((OpKind::Activation { value }, output)) => Some(Activation {
                        value: value.clone(),
                        input: z.clone(),
                        output: output.clone(),
                    }),
                    _ => None,
                };
                steps.push(ForwardStep::Linear {
                    field: linear.field.clone(),
                    input,
                    z: z.clone(),
                    activation: fused.clone(),
                });
            }
            Head::Conv(conv) => steps.push(ForwardStep::Conv {
                field: conv.field.clone(),
                input,
                output: z.clone(),
                workspace: workspace.expect("a convolution has a workspace").clone(),
            }),
            Head::Pool(pool) => steps.push(ForwardStep::Pool {
                field: pool.field.clone(),
                input,
                output: z.clone(),
            }),
            Head::Norm(norm) => {
                let mode = match (norm.batch_statistics, training) {
                    (false, _) => "",
                    (true, false) => "_eval",
                    (true, true) => "_train",
                };
                steps.push(ForwardStep::Norm {
                    function: format_ident!("{}_forward{mode}", norm.passes),
                    field: norm.field.clone(),
                    input,
                    output: z.clone(),
                    training: training && norm.batch_statistics,
                });
            }
            Head::Sum { skip, branch } => steps.push(ForwardStep::Add {
                skip: skip.map_or(Source::Input, |s| Source::Buffer(outputs[s].clone())),
                branch: outputs[*branch].clone(),
                output: z.clone(),
            }),
        }
        let mut previous = fused.as_ref().map_or(z, |a| &a.output).clone();
        let skipped = usize::from(fused.is_some());
        for op in ops.iter().skip(skipped) {
            steps.push(match &op.kind {
                OpKind::Activation { value } => ForwardStep::Activation {
                    activation: Activation {
                        value: value.clone(),
                        input: previous.clone(),
                        output: op.buffer.clone(),
                    },
                    width: stage.outputs.clone(),
                },
                OpKind::Dropout { field, mask, .. } => ForwardStep::Dropout {
                    field: field.clone(),
                    input: previous.clone(),
                    output: op.buffer.clone(),
                    mask: mask.clone(),
                },
            });
            previous = op.buffer.clone();
        }
        outputs.push(previous);
    }
    steps
}

/// The backward pass, last layer first: per stage, the gradients residual sums pass it by their
/// skip connections, the ops no product folds in (in reverse), then the head's gradients: a
/// `Linear`'s or a convolution's parameters and input (with the derivative of the stage before
/// folded in where [`folds_last_derivative`] says), or a sum's hand-over to its chain.
fn backward_steps(stages: &[Stage], workspace: Option<&Ident>) -> Vec<BackwardStep> {
    let mut steps = Vec::new();
    for (k, stage) in stages.iter().enumerate().rev() {
        let grad = &stage.grad;
        for sum in stages
            .iter()
            .filter(|s| matches!(s.head, Head::Sum { skip: Some(skip), .. } if skip == k))
        {
            steps.push(BackwardStep::AddGrad {
                grad: grad.clone(),
                sum: sum.grad.clone(),
            });
        }
        let handled =
            usize::from(last_activation(stage).is_some() && folds_last_derivative(stages, k));
        for (j, op) in stage.ops.iter().enumerate().rev().skip(handled) {
            steps.push(match &op.kind {
                OpKind::Activation { .. } => BackwardStep::Activation {
                    activation: activation_at(stage, j).expect("an activation"),
                    grad: grad.clone(),
                    width: stage.outputs.clone(),
                },
                OpKind::Dropout { mask, .. } => BackwardStep::Dropout {
                    mask: mask.clone(),
                    grad: grad.clone(),
                },
            });
        }
        let input = match k {
            0 => Source::Input,
            _ => Source::Buffer(training_output(&stages[k - 1]).clone()),
        };
        let before = k.checked_sub(1).map(|i| &stages[i]);
        match &stage.head {
            Head::Linear(linear) => {
                steps.push(BackwardStep::Params {
                    field: linear.field.clone(),
                    input,
                    grad: grad.clone(),
                });
                if let Some(before) = before {
                    let derivative = last_activation(before)
                        .filter(|_| folds_last_derivative(stages, k - 1))
                        .unwrap_or_else(|| identity(&before.z));
                    steps.push(BackwardStep::Input {
                        field: linear.field.clone(),
                        grad: grad.clone(),
                        derivative,
                        grad_before: before.grad.clone(),
                    });
                }
            }
            Head::Conv(conv) => {
                let workspace = workspace.expect("a convolution has a workspace");
                steps.push(BackwardStep::ConvParams {
                    field: conv.field.clone(),
                    input,
                    grad: grad.clone(),
                    workspace: workspace.clone(),
                });
                if let Some(before) = before {
                    steps.push(BackwardStep::ConvInput {
                        field: conv.field.clone(),
                        grad: grad.clone(),
                        grad_before: before.grad.clone(),
                        workspace: workspace.clone(),
                    });
                }
            }
            Head::Norm(norm) => {
                steps.push(BackwardStep::Norm {
                    passes: norm.passes.clone(),
                    field: norm.field.clone(),
                    input,
                    grad: grad.clone(),
                    grad_before: before.map(|before| before.grad.clone()),
                });
            }
            Head::Pool(pool) => {
                if let Some(before) = before {
                    steps.push(BackwardStep::PoolInput {
                        field: pool.field.clone(),
                        input,
                        grad: grad.clone(),
                        grad_before: before.grad.clone(),
                    });
                }
            }
            Head::Sum { branch, .. } => {
                let branch = &stages[*branch];
                steps.push(BackwardStep::Route {
                    grad: grad.clone(),
                    branch: branch.grad.clone(),
                    derivative: last_activation(branch),
                    width: stage.outputs.clone(),
                });
            }
        }
    }
    steps
}

/// The runtime's `LeakyReLU::new(0.1f32)` and the like.
fn activation_value(spec: &LayerSpec, constructor: Constructor, args: &[Argument]) -> TokenStream {
    let private = crate::runtime::path();
    let ty = Ident::new(spec.name, Span::call_site());
    match constructor {
        Constructor::Unit => quote!(#private::#ty),
        Constructor::New => {
            let values = args.iter().map(|a| match a {
                Argument::Number(tokens) => tokens.clone(),
                _ => quote!(0.0f32),
            });
            quote!(#private::#ty::new(#(#values),*))
        }
        Constructor::Gelu => match args.first() {
            Some(Argument::Choice(choice)) if choice == "tanh" => {
                quote!(#private::#ty::tanh())
            }
            _ => quote!(#private::#ty::new()),
        },
    }
}

/// `MySwish` → `my_swish`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(src: &str) -> Network {
        let input: NetworkInput = syn::parse_str(src).expect("parses");
        let checked = crate::check::network(&input).expect("checks");
        network(&input, checked)
    }

    #[test]
    fn names_follow_sequential() {
        let network = lower("Linear(4, 8) -> ReLU -> Linear(8, 8) -> ReLU -> Linear(8, 1)");
        let keys: Vec<&str> = network
            .stages
            .iter()
            .filter_map(|s| s.head.parameters().map(|(_, weight, _)| weight))
            .collect();
        assert_eq!(keys, ["0.weight", "2.weight", "4.weight"]);
        assert_eq!(network.stages[1].head.parameters().unwrap().0, "linear2");
        assert_eq!(network.stages[0].ops[0].buffer, "relu1");
        assert!(network.const_checks.is_empty());
        assert_eq!(snake_case("MySwish"), "my_swish");
    }

    #[test]
    fn generated_names_step_aside_for_labels() {
        let network = lower(
            "struct R { buffers: Linear(2, 3) -> ReLU -> relu: Linear(3, 3) -> Linear(3, 1) -> Dropout -> linear3: Linear(1, 1) }",
        );
        assert_eq!(network.buffers_field, "buffers_1");
        let fields: Vec<String> = network
            .stages
            .iter()
            .map(|s| s.head.parameters().unwrap().0.to_string())
            .collect();
        assert_eq!(fields, ["buffers", "relu", "linear3_1", "linear3"]);
        let bindings: Vec<String> = network
            .slots()
            .iter()
            .map(|s| s.binding.to_string())
            .collect();
        assert_eq!(
            bindings,
            [
                "buffers_1",
                "relu",
                "d_buffers_1",
                "relu_1",
                "d_relu_1",
                "linear3_1",
                "dropout",
                "dropout_mask",
                "d_linear3_1",
                "linear3",
                "d_linear3"
            ]
        );
        assert_eq!(network.type_params.rng, "R_1");
    }

    #[test]
    fn residual_layers_are_named_as_nested_sequentials() {
        let network = lower(
            "Linear(4, 8) -> ReLU -> Residual(Linear(8, 8) -> ReLU -> inner: Linear(8, 8)) -> Linear(8, 1)",
        );
        let keys: Vec<&str> = network
            .stages
            .iter()
            .filter_map(|s| s.head.parameters().map(|(_, weight, _)| weight))
            .collect();
        assert_eq!(keys, ["0.weight", "2.0.weight", "inner.weight", "3.weight"]);
        assert!(matches!(
            network.stages[3].head,
            Head::Sum {
                skip: Some(0),
                branch: 2
            }
        ));
        // The first stage's ReLU derivative waits for the skip connection's gradient.
        let steps: Vec<&str> = network
            .plan
            .backward
            .iter()
            .map(|step| match step {
                BackwardStep::Activation { .. } => "activation",
                BackwardStep::Dropout { .. } => "dropout",
                BackwardStep::Params { .. } => "params",
                BackwardStep::Input { .. } => "input",
                BackwardStep::ConvParams { .. } => "conv params",
                BackwardStep::ConvInput { .. } => "conv input",
                BackwardStep::Route { .. } => "route",
                BackwardStep::AddGrad { .. } => "add",
                BackwardStep::PoolInput { .. } => "pool input",
                BackwardStep::Norm { .. } => "norm",
            })
            .collect();
        assert_eq!(
            steps,
            [
                "params",
                "input",
                "route",
                "params",
                "input",
                "params",
                "input",
                "add",
                "activation",
                "params"
            ]
        );
    }
}
