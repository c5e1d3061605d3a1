//! Lowering: the checked chain becomes the model that `expand` prints. Every decision about
//! the generated code is made here: names that cannot collide with the user's, which buffer
//! each layer reads and writes, and which activations run inside a matrix product.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
use syn::{Ident, Visibility};

use crate::check::{Argument, Checked, Resolved};
use crate::layers::{Constructor, Kind, LayerSpec};
use crate::model::{
    Activation, BackwardStep, CustomActivation, ForwardStep, LinearLayer, LossGradient, Network,
    Op, OpKind, Plan, Source, Stage, TypeParams, Width,
};
use crate::names::{self, Names};
use crate::parse::{LayerCall, NetworkInput};

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
        const_checks,
    } = checked;
    let layers = &input.chain.layers;
    // A label is written as an identifier (`r#type`) and named without its `r#` (`type.weight`).
    let label_text = |layer: &LayerCall| layer.label.as_ref().map(|l| l.unraw().to_string());
    // PyTorch's name of a module: its label, or its index in the chain, as `nn.Sequential`.
    let module_key =
        |layer: &LayerCall, index: usize| label_text(layer).unwrap_or_else(|| index.to_string());
    let base_names: Vec<String> = layers
        .iter()
        .zip(&resolved)
        .map(|(layer, kind)| match kind {
            Resolved::Builtin(spec) => spec.snake.to_owned(),
            _ => snake_case(
                &layer
                    .name
                    .segments
                    .last()
                    .map(|s| s.ident.unraw().to_string())
                    .unwrap_or_default(),
            ),
        })
        .collect();
    // Struct fields: the labels as written, then generated names that avoid them.
    let mut fields = Names::new(layers.iter().filter_map(label_text));
    // Buffers are bound to locals named after their layers, apart from the functions' own.
    let mut buffers = Names::new(GENERATED_LOCALS);
    // A buffer is named after its layer; where a name repeats, the position tells them apart.
    let buffer_name = |buffers: &mut Names, index: usize| {
        let base = &base_names[index];
        if base_names.iter().filter(|b| *b == base).count() > 1 {
            buffers.fresh(&format!("{base}{index}"))
        } else {
            buffers.fresh(base)
        }
    };

    let mut stages: Vec<Stage> = Vec::new();
    let mut custom_activations = Vec::new();
    for (index, ((layer, kind), args)) in layers.iter().zip(&resolved).zip(&arguments).enumerate() {
        let display = layer.text();
        match kind {
            Resolved::Builtin(spec) if spec.kind == Kind::Linear => {
                let width = |i: usize| match &args[i] {
                    Argument::Width(w) => w.clone(),
                    _ => Width::Literal(1, Span::call_site()),
                };
                let (field, key) = match (&layer.label, label_text(layer)) {
                    (Some(label), Some(text)) => (label.clone(), text),
                    _ => (fields.fresh(&format!("linear{index}")), index.to_string()),
                };
                let z = buffers.fresh(&field.unraw().to_string());
                stages.push(Stage {
                    linear: LinearLayer {
                        grad: buffers.fresh(&format!("d_{}", z.unraw())),
                        z,
                        field,
                        weight_key: format!("{key}.weight"),
                        bias_key: format!("{key}.bias"),
                        key,
                        inputs: width(0),
                        outputs: width(1),
                        display: match label_text(layer) {
                            Some(label) => format!("{label} ({display})"),
                            None => display,
                        },
                    },
                    ops: Vec::new(),
                });
            }
            Resolved::Builtin(spec) => {
                let buffer = buffer_name(&mut buffers, index);
                let kind = match spec.kind {
                    Kind::Dropout => OpKind::Dropout {
                        field: fields.fresh(&format!("dropout{index}")),
                        mask: buffers.fresh(&format!("{}_mask", buffer.unraw())),
                        p: match &args[0] {
                            Argument::Number(p) => p.clone(),
                            _ => quote!(0.5f32),
                        },
                    },
                    Kind::Activation(constructor) => OpKind::Activation {
                        value: activation_value(spec, constructor, args),
                    },
                    Kind::Linear => unreachable!("handled above"),
                };
                if let Some(stage) = stages.last_mut() {
                    stage.ops.push(Op {
                        key: module_key(layer, index),
                        buffer,
                        kind,
                        display,
                    });
                }
            }
            Resolved::Custom | Resolved::Unknown => {
                let path = &layer.name;
                let value = match &layer.args {
                    Some(args) => {
                        let list = &args.list;
                        quote!(#path(#list))
                    }
                    None => quote!(#path),
                };
                let function = format_ident!("activation{}", index);
                let call = quote!(#function());
                custom_activations.push(CustomActivation {
                    function,
                    value,
                    path: path.clone(),
                });
                if let Some(stage) = stages.last_mut() {
                    stage.ops.push(Op {
                        key: module_key(layer, index),
                        buffer: buffer_name(&mut buffers, index),
                        kind: OpKind::Activation { value: call },
                        display,
                    });
                }
            }
        }
    }

    let spec = layers
        .iter()
        .map(|layer| match label_text(layer) {
            Some(label) => format!("{label}: {}", layer.text()),
            None => layer.text(),
        })
        .collect::<Vec<_>>()
        .join(" -> ");
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
    let mut used = names::identifiers(
        layers
            .iter()
            .map(|l| l.to_token_stream())
            .collect::<TokenStream>(),
    );
    used.insert(name.to_string());
    let mut type_names = Names::new(used);
    let type_params = TypeParams {
        rng: type_names.fresh("R"),
        loss: type_names.fresh("L"),
        optimizer: type_names.fresh("O"),
        path: type_names.fresh("P"),
        visitor: type_names.fresh("V"),
    };
    let input_width = stages.first().map(|s| s.linear.inputs.clone());
    let output_width = stages.last().map(|s| s.linear.outputs.clone());
    let plan = plan(&stages);
    Network {
        attrs,
        vis,
        name,
        anonymous,
        input: input_width.unwrap_or(Width::Literal(1, Span::call_site())),
        output: output_width.unwrap_or(Width::Literal(1, Span::call_site())),
        stages,
        spec,
        const_checks,
        custom_activations,
        buffers_field: fields.fresh("buffers"),
        type_params,
        plan,
    }
}

/// The steps of every pass over `stages`, with the fusion rules of [`Plan`] applied.
fn plan(stages: &[Stage]) -> Plan {
    let evaluation = forward_steps(stages, false);
    let has_dropout = stages
        .iter()
        .flat_map(|stage| &stage.ops)
        .any(|op| matches!(op.kind, OpKind::Dropout { .. }));
    let last = stages.last().expect("checked: at least one layer");
    Plan {
        evaluation,
        training: has_dropout.then(|| forward_steps(stages, true)),
        evaluation_output: evaluation_output(last).clone(),
        training_output: training_output(last).clone(),
        loss: LossGradient {
            activation: loss_activation(last),
            grad: last.linear.grad.clone(),
            width: last.linear.outputs.clone(),
        },
        backward: backward_steps(stages),
    }
}

/// The buffer op `index` of `stage` reads in training: the op before it, or the `Linear`'s output.
fn training_input(stage: &Stage, index: usize) -> &Ident {
    match index {
        0 => &stage.linear.z,
        _ => &stage.ops[index - 1].buffer,
    }
}

/// The buffer holding a stage's output in training.
fn training_output(stage: &Stage) -> &Ident {
    stage.ops.last().map_or(&stage.linear.z, |op| &op.buffer)
}

/// The buffer holding a stage's output in evaluation, where dropout is skipped.
fn evaluation_output(stage: &Stage) -> &Ident {
    stage
        .ops
        .iter()
        .rev()
        .find(|op| matches!(op.kind, OpKind::Activation { .. }))
        .map_or(&stage.linear.z, |op| &op.buffer)
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

/// A stage's last op, if it is an activation: the one whose derivative is applied elsewhere
/// (by the loss, or by the next `Linear`'s input-gradient product).
fn last_activation(stage: &Stage) -> Option<Activation> {
    activation_at(stage, stage.ops.len().checked_sub(1)?)
}

/// What the loss differentiates through: the network's last op if it is an activation, else the
/// identity over the last output.
fn loss_activation(last: &Stage) -> Activation {
    last_activation(last).unwrap_or_else(|| identity(training_output(last)))
}

/// One forward pass: each `Linear` with its first activation fused in, then the stage's other
/// ops; in evaluation, dropout is left out.
fn forward_steps(stages: &[Stage], training: bool) -> Vec<ForwardStep> {
    let mut steps = Vec::new();
    let mut input = Source::Input;
    for stage in stages {
        let ops: Vec<&Op> = stage
            .ops
            .iter()
            .filter(|op| training || matches!(op.kind, OpKind::Activation { .. }))
            .collect();
        let z = &stage.linear.z;
        let fused = match ops.first().map(|op| (&op.kind, &op.buffer)) {
            Some((OpKind::Activation { value }, output)) => Some(Activation {
                value: value.clone(),
                input: z.clone(),
                output: output.clone(),
            }),
            _ => None,
        };
        let mut previous = fused.as_ref().map_or(z, |a| &a.output).clone();
        let skipped = usize::from(fused.is_some());
        steps.push(ForwardStep::Linear {
            field: stage.linear.field.clone(),
            input,
            z: z.clone(),
            activation: fused,
        });
        for op in ops.iter().skip(skipped) {
            steps.push(match &op.kind {
                OpKind::Activation { value } => ForwardStep::Activation {
                    activation: Activation {
                        value: value.clone(),
                        input: previous.clone(),
                        output: op.buffer.clone(),
                    },
                    width: stage.linear.outputs.clone(),
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
        input = Source::Buffer(previous);
    }
    steps
}

/// The backward pass, last layer first: per stage, the ops no product folds in (in reverse),
/// the `Linear`'s parameter gradients, then its input gradient with the derivative of the stage
/// before folded in.
fn backward_steps(stages: &[Stage]) -> Vec<BackwardStep> {
    let mut steps = Vec::new();
    for (k, stage) in stages.iter().enumerate().rev() {
        let grad = &stage.linear.grad;
        // The last op of a stage that is an activation is handled elsewhere: by the loss for the
        // last stage, by the next `Linear`'s input gradient for the others.
        let handled = usize::from(last_activation(stage).is_some());
        for (j, op) in stage.ops.iter().enumerate().rev().skip(handled) {
            steps.push(match &op.kind {
                OpKind::Activation { .. } => BackwardStep::Activation {
                    activation: activation_at(stage, j).expect("an activation"),
                    grad: grad.clone(),
                    width: stage.linear.outputs.clone(),
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
        steps.push(BackwardStep::Params {
            field: stage.linear.field.clone(),
            input,
            grad: grad.clone(),
        });
        if let Some(before) = k.checked_sub(1).map(|i| &stages[i]) {
            let derivative = last_activation(before).unwrap_or_else(|| identity(&before.linear.z));
            steps.push(BackwardStep::Input {
                field: stage.linear.field.clone(),
                grad: grad.clone(),
                derivative,
                grad_before: before.linear.grad.clone(),
            });
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
            .map(|s| s.linear.weight_key.as_str())
            .collect();
        assert_eq!(keys, ["0.weight", "2.weight", "4.weight"]);
        assert_eq!(network.stages[1].linear.field, "linear2");
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
            .map(|s| s.linear.field.to_string())
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
}
