//! The forward passes: evaluation (dropout off) and training (recording what backward needs).
//! One statement per layer, in order; each `Linear` applies its activation in the same pass.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::model::{Network, OpKind, Stage};

/// The buffer op `index` of `stage` reads in training: the op before it, or the `Linear`'s output.
pub(super) fn training_input(stage: &Stage, index: usize) -> &Ident {
    match index {
        0 => &stage.linear.field,
        _ => &stage.ops[index - 1].buffer,
    }
}

/// The buffer holding a stage's output in training.
pub(super) fn training_output(stage: &Stage) -> &Ident {
    stage
        .ops
        .last()
        .map_or(&stage.linear.field, |op| &op.buffer)
}

/// The buffer holding a stage's output in evaluation, where dropout is skipped.
pub(super) fn evaluation_output(stage: &Stage) -> &Ident {
    stage
        .ops
        .iter()
        .rev()
        .find(|op| matches!(op.kind, OpKind::Activation { .. }))
        .map_or(&stage.linear.field, |op| &op.buffer)
}

pub(crate) fn expand(network: &Network) -> TokenStream {
    let name = &network.name;
    let buffers = format_ident!("{}Buffers", name);
    let evaluation = passes(network, false);
    let has_dropout = network
        .stages
        .iter()
        .flat_map(|stage| &stage.ops)
        .any(|op| matches!(op.kind, OpKind::Dropout { .. }));
    // Without dropout, training runs the same layers as evaluation.
    let training = if has_dropout {
        let statements = passes(network, true);
        quote! {
            let rows = buffers.rows;
            #(#statements)*
        }
    } else {
        quote!(self.forward_with(x, buffers);)
    };
    quote! {
        impl #name {
            /// Runs every layer in evaluation mode over `x`, `buffers` sized for its rows.
            fn forward_with(&self, x: &[f32], buffers: &mut #buffers) {
                let rows = buffers.rows;
                #(#evaluation)*
            }

            /// Runs every layer in training mode over `x`, keeping each layer's output in
            /// `buffers` for the backward pass.
            fn record_forward(&mut self, x: &[f32], buffers: &mut #buffers) {
                #training
            }
        }
    }
}

/// The statements of one forward pass.
fn passes(network: &Network, training: bool) -> Vec<TokenStream> {
    let mut statements = Vec::new();
    let mut input = quote!(x);
    for stage in &network.stages {
        let linear = &stage.linear.field;
        let z = linear;
        let width = &stage.linear.outputs;
        let ops: Vec<_> = stage
            .ops
            .iter()
            .filter(|op| training || matches!(op.kind, OpKind::Activation { .. }))
            .collect();
        match ops.first().map(|op| (&op.kind, &op.buffer)) {
            Some((OpKind::Activation { value }, a)) => statements.push(quote! {
                self.#linear.forward_activate(rows, #input, &mut buffers.#z, &mut buffers.#a, &#value);
            }),
            _ => statements.push(quote! {
                self.#linear.forward_into(rows, #input, &mut buffers.#z);
            }),
        }
        let first_fused = matches!(
            ops.first().map(|op| &op.kind),
            Some(OpKind::Activation { .. })
        );
        let mut previous = if first_fused { &ops[0].buffer } else { z };
        for op in ops.iter().skip(usize::from(first_fused)) {
            let out = &op.buffer;
            statements.push(match &op.kind {
                OpKind::Activation { value } => quote! {
                    ::nn::__private::RowActivation::forward_rows(&#value, &buffers.#previous, &mut buffers.#out, #width);
                },
                OpKind::Dropout { field, mask, .. } => quote! {
                    self.#field.forward_train(&buffers.#previous, &mut buffers.#out, &mut buffers.#mask);
                },
            });
            previous = out;
        }
        let output = if training {
            training_output(stage)
        } else {
            evaluation_output(stage)
        };
        input = quote!(&buffers.#output);
    }
    statements
}
