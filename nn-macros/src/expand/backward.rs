//! The backward pass, the mirror image of the forward one, and the training entry points built
//! on both: `train_step`, and `forward_train` + `backward` for hand-written loops.
//!
//! The last activation is handed to the loss, which may use a combined gradient (sigmoid with
//! binary cross-entropy). Every other activation's derivative is folded into the input-gradient
//! pass of the `Linear` after it. The network's own input gets no gradient.

use proc_macro2::TokenStream;
use quote::quote;

use super::bind_slots;
use super::forward::{training_input, training_output};
use crate::model::{Network, Op, OpKind, Stage, TypeParams};

/// The last op of the network if it is an activation: it is differentiated with the loss.
fn loss_activation(network: &Network) -> Option<&Op> {
    let last = network.stages.last()?.ops.last()?;
    matches!(last.kind, OpKind::Activation { .. }).then_some(last)
}

/// The activation value of `op`, which must be an activation.
fn activation_value(op: &Op) -> &TokenStream {
    match &op.kind {
        OpKind::Activation { value } => value,
        OpKind::Dropout { .. } => unreachable!("only activations are fused"),
    }
}

pub(crate) fn expand(network: &Network) -> TokenStream {
    let name = &network.name;
    let TypeParams {
        loss: l,
        optimizer: o,
        ..
    } = &network.type_params;
    let buffers = &network.buffers_field;
    let slots = proc_macro2::Literal::usize_unsuffixed(network.slots().len());
    let (input_width, output_width) = (&network.input, &network.output);
    let last_stage = network.stages.last().expect("checked: at least one layer");
    let d_output = &last_stage.linear.grad;
    let output = training_output(last_stage);
    let backward = backward_statements(network);
    let bind_backward = bind_slots(network, quote!(slots), &backward);

    // The loss, its gradient taken through the last activation (or through the identity).
    let (final_activation, final_input) = match loss_activation(network) {
        Some(op) => {
            let index = last_stage.ops.len() - 1;
            (
                activation_value(op).clone(),
                training_input(last_stage, index).clone(),
            )
        }
        None => (quote!(::nn::__private::Identity), output.clone()),
    };
    let loss_gradient = quote! {
        let value = loss.loss_and_grad_through(&#final_activation, #final_input, #output, target, #d_output);
    };
    let bind_loss = bind_slots(network, quote!(buffers.slots_mut()), &loss_gradient);
    let copy_output = quote!(output.as_mut_slice().copy_from_slice(#output););
    let bind_output = bind_slots(network, quote!(buffers.slots_mut()), &copy_output);
    let output_gradient = quote! {
        #d_output.copy_from_slice(grad_output.as_slice());
        ::nn::__private::RowActivation::backward_rows(&#final_activation, #final_input, #output, #d_output, #output_width);
    };
    let bind_output_gradient = bind_slots(network, quote!(&mut *slots), &output_gradient);

    quote! {
        /// Adds each parameter's gradient (or, without `accumulate`, overwrites it), given in
        /// `slots` the gradient with respect to the input of the last activation.
        fn backward_with(network: &mut #name, x: &[f32], rows: usize, slots: &mut [::nn::__private::AlignedVec; #slots], accumulate: bool) {
            #bind_backward
            #backward
        }

        impl #name {
            /// One training step: forward, loss, backward and the optimizer's update, as
            /// PyTorch's `zero_grad(); loss = criterion(model(x), target); loss.backward();
            /// optimizer.step()`. Returns the loss before the update.
            ///
            /// # Errors
            /// When the target does not fit `x`, or the loss or a gradient is not finite; the
            /// parameters and the optimizer's state are left unchanged then.
            pub fn train_step<#l, #o>(
                &mut self,
                x: &::nn::__private::Batch<#input_width>,
                target: &#l::Target,
                loss: &#l,
                optimizer: &mut #o,
            ) -> ::core::result::Result<f32, ::nn::__private::Error>
            where
                #l: ::nn::__private::Loss<#output_width>,
                #o: ::nn::__private::Optimizer,
            {
                let rows = x.rows();
                loss.check_target(target, rows)?;
                let mut buffers = ::core::mem::take(&mut self.#buffers);
                buffers.resize(rows);
                record_forward(self, x.as_slice(), &mut buffers);
                #bind_loss
                #loss_gradient
                if !value.is_finite() {
                    self.#buffers = buffers;
                    return ::core::result::Result::Err(::nn::__private::Error::NonFiniteLoss { value });
                }
                backward_with(self, x.as_slice(), rows, buffers.slots_mut(), false);
                self.#buffers = buffers;
                // A NaN or an infinity in a gradient would spread into every parameter and the
                // optimizer's state: no update then.
                ::nn::__private::check_finite(self)?;
                optimizer.step(self);
                ::core::result::Result::Ok(value)
            }

            /// A forward pass in training mode that records what [`backward`](Self::backward)
            /// needs, like calling a PyTorch model in `train()` mode.
            pub fn forward_train(
                &mut self,
                x: &::nn::__private::Batch<#input_width>,
            ) -> ::nn::__private::Batch<#output_width> {
                let mut buffers = ::core::mem::take(&mut self.#buffers);
                buffers.resize(x.rows());
                buffers.record_input(x.as_slice());
                record_forward(self, x.as_slice(), &mut buffers);
                let mut output = ::nn::__private::Batch::zeros(x.rows());
                #bind_output
                #copy_output
                self.#buffers = buffers;
                output
            }

            /// Adds the parameters' gradients, given the gradient of the loss with respect to
            /// the output of the last [`forward_train`](Self::forward_train), like PyTorch's
            /// `output.backward(grad_output)`.
            ///
            /// # Errors
            /// [`Error::RowMismatch`](::nn::__private::Error::RowMismatch) when `grad_output`
            /// does not have the rows of the recorded pass.
            pub fn backward(
                &mut self,
                grad_output: &::nn::__private::Batch<#output_width>,
            ) -> ::core::result::Result<(), ::nn::__private::Error> {
                let rows = grad_output.rows();
                if self.#buffers.recorded_rows(#input_width) != ::core::option::Option::Some(rows) {
                    return ::core::result::Result::Err(::nn::__private::Error::RowMismatch {
                        input: self.#buffers.rows(),
                        target: rows,
                    });
                }
                let mut buffers = ::core::mem::take(&mut self.#buffers);
                let (input, slots) = buffers.input_and_slots_mut();
                #bind_output_gradient
                #output_gradient
                backward_with(self, input, rows, slots, true);
                self.#buffers = buffers;
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// The statements of the backward pass, last layer first.
fn backward_statements(network: &Network) -> TokenStream {
    let mut statements = Vec::new();
    let stages = &network.stages;
    for (k, stage) in stages.iter().enumerate().rev() {
        let d = &stage.linear.grad;
        let width = &stage.linear.outputs;
        // Ops already handled: the loss's activation for the last stage; the folded one for
        // the others (done by the input-gradient pass of the `Linear` after them).
        let handled = if k + 1 == stages.len() {
            usize::from(loss_activation(network).is_some())
        } else {
            usize::from(folds_last_op(stage))
        };
        for (j, op) in stage.ops.iter().enumerate().rev().skip(handled) {
            let input = training_input(stage, j);
            let output = &op.buffer;
            statements.push(match &op.kind {
                OpKind::Activation { value } => quote! {
                    ::nn::__private::RowActivation::backward_rows(&#value, #input, #output, #d, #width);
                },
                OpKind::Dropout { mask, .. } => quote! {
                    ::nn::__private::Dropout::backward(#mask, #d);
                },
            });
        }
        let linear = &stage.linear.field;
        let input = match k {
            0 => quote!(x),
            _ => {
                let previous = training_output(&stages[k - 1]);
                quote!(#previous)
            }
        };
        statements.push(quote! {
            network.#linear.backward_params(rows, #input, #d, accumulate);
        });
        if k > 0 {
            let before = &stages[k - 1];
            let d_before = &before.linear.grad;
            let (value, fold_input, fold_output) = if folds_last_op(before) {
                let j = before.ops.len() - 1;
                let op = &before.ops[j];
                (
                    activation_value(op).clone(),
                    training_input(before, j).clone(),
                    op.buffer.clone(),
                )
            } else {
                let z = &before.linear.z;
                (quote!(::nn::__private::Identity), z.clone(), z.clone())
            };
            statements.push(quote! {
                network.#linear.backward_input(rows, #d, #fold_input, #fold_output, &#value, #d_before);
            });
        }
    }
    quote!(#(#statements)*)
}

/// Whether a stage's last op is an activation, whose derivative the next `Linear` folds in.
fn folds_last_op(stage: &Stage) -> bool {
    matches!(
        stage.ops.last().map(|op| &op.kind),
        Some(OpKind::Activation { .. })
    )
}
