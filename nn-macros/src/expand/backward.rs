//! The backward pass, the mirror image of the forward one, and the training entry points built
//! on both: `train_step`, and `forward_train` + `backward` for hand-written loops.
//!
//! The last activation is handed to the loss, which may use a combined gradient (sigmoid with
//! binary cross-entropy). Every other activation's derivative is folded into the input-gradient
//! pass of the `Linear` after it. The network's own input gets no gradient.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::forward::{training_input, training_output};
use crate::model::{Network, Op, OpKind, Stage};

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
    let buffers = format_ident!("{}Buffers", name);
    let (input_width, output_width) = (&network.input, &network.output);
    let last_stage = network.stages.last().expect("checked: at least one layer");
    let d_output = &last_stage.linear.grad;
    let output = training_output(last_stage);
    let backward = backward_statements(network);

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

    quote! {
        impl #name {
            /// Adds each parameter's gradient (or, without `accumulate`, overwrites it), given in
            /// `buffers` the gradient with respect to the input of the last activation.
            fn backward_with(&mut self, x: &[f32], buffers: &mut #buffers, accumulate: bool) {
                let rows = buffers.rows;
                #(#backward)*
            }

            /// One training step: forward, loss, backward and the optimizer's update, as
            /// PyTorch's `zero_grad(); loss = criterion(model(x), target); loss.backward();
            /// optimizer.step()`. Returns the loss before the update.
            ///
            /// # Errors
            /// When the target does not fit `x`, or the loss is not finite; the parameters are
            /// left unchanged then.
            pub fn train_step<L, O>(
                &mut self,
                x: &::nn::__private::Batch<#input_width>,
                target: &L::Target,
                loss: &L,
                optimizer: &mut O,
            ) -> ::core::result::Result<f32, ::nn::__private::Error>
            where
                L: ::nn::__private::Loss<#output_width>,
                O: ::nn::__private::Optimizer,
            {
                let rows = x.rows();
                loss.check_target(target, rows)?;
                let mut buffers = ::core::mem::take(&mut self.buffers);
                buffers.resize(rows);
                self.record_forward(x.as_slice(), &mut buffers);
                let value = loss.loss_and_grad_through(
                    &#final_activation,
                    &buffers.#final_input,
                    &buffers.#output,
                    target,
                    &mut buffers.#d_output,
                );
                if !value.is_finite() {
                    self.buffers = buffers;
                    return ::core::result::Result::Err(::nn::__private::Error::NonFiniteLoss { value });
                }
                self.backward_with(x.as_slice(), &mut buffers, false);
                self.buffers = buffers;
                optimizer.step(self);
                ::core::result::Result::Ok(value)
            }

            /// A forward pass in training mode that records what [`backward`](Self::backward)
            /// needs, like calling a PyTorch model in `train()` mode.
            pub fn forward_train(
                &mut self,
                x: &::nn::__private::Batch<#input_width>,
            ) -> ::nn::__private::Batch<#output_width> {
                let mut buffers = ::core::mem::take(&mut self.buffers);
                buffers.resize(x.rows());
                buffers.input.clear();
                buffers.input.extend_from_slice(x.as_slice());
                self.record_forward(x.as_slice(), &mut buffers);
                let mut output = ::nn::__private::Batch::zeros(x.rows());
                output.as_mut_slice().copy_from_slice(&buffers.#output);
                self.buffers = buffers;
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
                let rows = self.buffers.rows;
                if grad_output.rows() != rows || self.buffers.input.len() != rows * #input_width {
                    return ::core::result::Result::Err(::nn::__private::Error::RowMismatch {
                        input: rows,
                        target: grad_output.rows(),
                    });
                }
                let mut buffers = ::core::mem::take(&mut self.buffers);
                buffers.#d_output.copy_from_slice(grad_output.as_slice());
                ::nn::__private::RowActivation::backward_rows(
                    &#final_activation,
                    &buffers.#final_input,
                    &buffers.#output,
                    &mut buffers.#d_output,
                    #output_width,
                );
                let input = ::core::mem::take(&mut buffers.input);
                self.backward_with(&input, &mut buffers, true);
                buffers.input = input;
                self.buffers = buffers;
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// The statements of the backward pass, last layer first.
fn backward_statements(network: &Network) -> Vec<TokenStream> {
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
                    ::nn::__private::RowActivation::backward_rows(&#value, &buffers.#input, &buffers.#output, &mut buffers.#d, #width);
                },
                OpKind::Dropout { mask, .. } => quote! {
                    ::nn::__private::Dropout::backward(&buffers.#mask, &mut buffers.#d);
                },
            });
        }
        let linear = &stage.linear.field;
        let input = match k {
            0 => quote!(x),
            _ => {
                let previous = training_output(&stages[k - 1]);
                quote!(&buffers.#previous)
            }
        };
        statements.push(quote! {
            self.#linear.backward_params(rows, #input, &buffers.#d, accumulate);
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
                let z = &before.linear.field;
                (quote!(::nn::__private::Identity), z.clone(), z.clone())
            };
            statements.push(quote! {
                self.#linear.backward_input(rows, &buffers.#d, &buffers.#fold_input, &buffers.#fold_output, &#value, &mut buffers.#d_before);
            });
        }
    }
    statements
}

/// Whether a stage's last op is an activation, whose derivative the next `Linear` folds in.
fn folds_last_op(stage: &Stage) -> bool {
    matches!(
        stage.ops.last().map(|op| &op.kind),
        Some(OpKind::Activation { .. })
    )
}
