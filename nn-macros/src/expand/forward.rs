//! The forward passes: evaluation (dropout off) and training (recording what backward needs).
//! One statement per layer, in order; each `Linear` applies its activation in the same pass.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::bind_slots;
use crate::model::{Network, OpKind, Stage};

/// The buffer op `index` of `stage` reads in training: the op before it, or the `Linear`'s output.
pub(super) fn training_input(stage: &Stage, index: usize) -> &Ident {
    match index {
        0 => &stage.linear.z,
        _ => &stage.ops[index - 1].buffer,
    }
}

/// The buffer holding a stage's output in training.
pub(super) fn training_output(stage: &Stage) -> &Ident {
    stage.ops.last().map_or(&stage.linear.z, |op| &op.buffer)
}

/// The buffer holding a stage's output in evaluation, where dropout is skipped.
pub(super) fn evaluation_output(stage: &Stage) -> &Ident {
    stage
        .ops
        .iter()
        .rev()
        .find(|op| matches!(op.kind, OpKind::Activation { .. }))
        .map_or(&stage.linear.z, |op| &op.buffer)
}

pub(crate) fn expand(network: &Network) -> TokenStream {
    let name = &network.name;
    let slots = proc_macro2::Literal::usize_unsuffixed(network.slots().len());
    let evaluation = passes(network, false);
    let bind_evaluation = bind_slots(network, quote!(buffers.slots_mut()), &evaluation);
    let has_dropout = network
        .stages
        .iter()
        .flat_map(|stage| &stage.ops)
        .any(|op| matches!(op.kind, OpKind::Dropout { .. }));
    // Without dropout, training runs the same layers as evaluation.
    let training = if has_dropout {
        let statements = passes(network, true);
        let bind = bind_slots(network, quote!(buffers.slots_mut()), &statements);
        quote! {
            let rows = buffers.rows();
            #bind
            #statements
        }
    } else {
        quote!(forward_with(network, x, buffers);)
    };
    quote! {
        /// Runs every layer of `network` in evaluation mode over `x`, into `buffers` sized for its
        /// rows.
        fn forward_with(network: &#name, x: &[f32], buffers: &mut ::nn::__private::Buffers<#slots>) {
            let rows = buffers.rows();
            #bind_evaluation
            #evaluation
        }

        /// Runs every layer of `network` in training mode over `x`, keeping each layer's output
        /// in `buffers` for the backward pass.
        fn record_forward(network: &mut #name, x: &[f32], buffers: &mut ::nn::__private::Buffers<#slots>) {
            #training
        }
    }
}

/// The statements of one forward pass.
fn passes(network: &Network, training: bool) -> TokenStream {
    let mut statements = Vec::new();
    let mut input = quote!(x);
    for stage in &network.stages {
        let linear = &stage.linear.field;
        let z = &stage.linear.z;
        let width = &stage.linear.outputs;
        let ops: Vec<_> = stage
            .ops
            .iter()
            .filter(|op| training || matches!(op.kind, OpKind::Activation { .. }))
            .collect();
        match ops.first().map(|op| (&op.kind, &op.buffer)) {
            Some((OpKind::Activation { value }, a)) => statements.push(quote! {
                network.#linear.forward_activate(rows, #input, #z, #a, &#value);
            }),
            _ => statements.push(quote! {
                network.#linear.forward_into(rows, #input, #z);
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
                    ::nn::__private::RowActivation::forward_rows(&#value, #previous, #out, #width);
                },
                OpKind::Dropout { field, mask, .. } => quote! {
                    network.#field.forward_train(#previous, #out, #mask);
                },
            });
            previous = out;
        }
        let output = if training {
            training_output(stage)
        } else {
            evaluation_output(stage)
        };
        input = quote!(#output);
    }
    quote!(#(#statements)*)
}
