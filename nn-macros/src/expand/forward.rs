//! The forward passes: evaluation (dropout off) and training (recording what backward needs),
//! one statement per step of the plan.

use proc_macro2::TokenStream;
use quote::quote;

use super::bind_slots;
use crate::model::{ForwardStep, Network};

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let slots = proc_macro2::Literal::usize_unsuffixed(network.slots().len());
    let evaluation = statements(&network.plan.evaluation);
    let bind_evaluation = bind_slots(network, quote!(buffers.slots_mut()), &evaluation);
    let training = match &network.plan.training {
        Some(steps) => {
            let statements = statements(steps);
            let bind = bind_slots(network, quote!(buffers.slots_mut()), &statements);
            quote! {
                let rows = buffers.rows();
                #bind
                #statements
            }
        }
        None => quote!(forward_with(network, x, buffers);),
    };
    quote! {
        /// Runs every layer of `network` in evaluation mode over `x`, into `buffers` sized for its
        /// rows.
        fn forward_with(network: &#name, x: &[f32], buffers: &mut #private::Buffers<#slots>) {
            let rows = buffers.rows();
            #bind_evaluation
            #evaluation
        }

        /// Runs every layer of `network` in training mode over `x`, keeping each layer's output
        /// in `buffers` for the backward pass.
        fn record_forward(network: &mut #name, x: &[f32], buffers: &mut #private::Buffers<#slots>) {
            #training
        }
    }
}

fn statements(steps: &[ForwardStep]) -> TokenStream {
    let private = crate::runtime::path();
    let statements = steps.iter().map(|step| match step {
        ForwardStep::Linear {
            field,
            input,
            z,
            activation: Some(activation),
        } => {
            let (value, a) = (&activation.value, &activation.output);
            quote!(network.#field.forward_activate(rows, #input, #z, #a, &#value);)
        }
        ForwardStep::Linear {
            field,
            input,
            z,
            activation: None,
        } => quote!(network.#field.forward_into(rows, #input, #z);),
        ForwardStep::Activation { activation, width } => {
            let (value, input, output) = (&activation.value, &activation.input, &activation.output);
            quote!(#private::RowActivation::forward_rows(&#value, #input, #output, #width);)
        }
        ForwardStep::Dropout {
            field,
            input,
            output,
            mask,
        } => quote!(network.#field.forward_train(#input, #output, #mask);),
        ForwardStep::Conv {
            field,
            input,
            output,
            workspace,
        } => quote!(#private::conv_forward(&network.#field, rows, #input, #output, #workspace);),
        ForwardStep::Norm {
            function,
            field,
            input,
            output,
            training,
        } => {
            let layer = if *training {
                quote!(&mut network.#field)
            } else {
                quote!(&network.#field)
            };
            quote!(#private::#function(#layer, rows, #input, #output);)
        }
        ForwardStep::Pool {
            field,
            input,
            output,
        } => quote!(#private::pool_forward(&network.#field, rows, #input, #output);),
        ForwardStep::Add {
            skip,
            branch,
            output,
        } => quote!(#private::add_rows(#skip, #branch, #output);),
    });
    quote!(#(#statements)*)
}
