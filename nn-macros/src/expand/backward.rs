//! The backward pass, the mirror image of the forward one, and the training entry points built
//! on both: `train_step`, and `forward_train` + `backward` for hand-written loops.
//!
//! The steps come from the plan (see `model::Plan` for the fusion rules). The network's own
//! input gets no gradient.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::bind_slots;
use crate::model::{BackwardStep, Head, LossGradient, Network, TypeParams};

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let TypeParams {
        loss: l,
        optimizer: o,
        ..
    } = &network.type_params;
    let buffers = &network.buffers_field;
    let slots = proc_macro2::Literal::usize_unsuffixed(network.slots().len());
    let (input_width, output_width) = (&network.input, &network.output);
    let (input_type, output_type) = (
        input_width.generic_argument(),
        output_width.generic_argument(),
    );
    let plan = &network.plan;
    // Batch statistics need more than one value per channel: a training step on too few rows
    // is an error before anything changes.
    let batch_statistics = network.stages.iter().filter_map(|stage| match &stage.head {
        Head::Norm(norm) if norm.batch_statistics => {
            let field = &norm.field;
            Some(quote!(self.#field.check_training_rows(rows)?;))
        }
        _ => None,
    });
    let output = &plan.training_output;
    let backward = statements(&plan.backward);
    let bind_backward = bind_slots(network, quote!(slots), &backward);
    let LossGradient {
        activation,
        grad: d_output,
        width,
    } = &plan.loss;
    let (final_activation, final_input, final_output) =
        (&activation.value, &activation.input, &activation.output);
    let loss_gradient = quote! {
        let value = loss.loss_and_grad_through(&#final_activation, #final_input, #final_output, target, #d_output);
    };
    let bind_loss = bind_slots(network, quote!(buffers.slots_mut()), &loss_gradient);
    let copy_output = quote!(output.as_mut_slice().copy_from_slice(#output););
    let bind_output = bind_slots(network, quote!(buffers.slots_mut()), &copy_output);
    let output_gradient = quote! {
        #d_output.copy_from_slice(grad_output.as_slice());
        #private::RowActivation::backward_rows(&#final_activation, #final_input, #final_output, #d_output, #width);
    };
    let bind_output_gradient = bind_slots(network, quote!(&mut *slots), &output_gradient);

    quote! {
        /// Adds each parameter's gradient (or, without `accumulate`, overwrites it), given in
        /// `slots` the gradient with respect to the input of the last activation.
        fn backward_with(network: &mut #name, x: &[f32], rows: usize, slots: &mut [#private::AlignedVec; #slots], accumulate: bool) {
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
                x: &#private::Batch<#input_type>,
                target: &#l::Target,
                loss: &#l,
                optimizer: &mut #o,
            ) -> ::core::result::Result<f32, #private::Error>
            where
                #l: #private::Loss<#output_type>,
                #o: #private::Optimizer,
            {
                let rows = x.rows();
                loss.check_target(target, rows)?;
                #(#batch_statistics)*
                let mut buffers = ::core::mem::take(&mut self.#buffers);
                buffers.resize(rows);
                record_forward(self, x.as_slice(), &mut buffers);
                #bind_loss
                #loss_gradient
                if !value.is_finite() {
                    self.#buffers = buffers;
                    return ::core::result::Result::Err(#private::Error::NonFiniteLoss { value });
                }
                backward_with(self, x.as_slice(), rows, buffers.slots_mut(), false);
                self.#buffers = buffers;
                // A NaN or an infinity in a gradient would spread into every parameter and the
                // optimizer's state: no update then.
                #private::check_finite(self)?;
                optimizer.step(self);
                ::core::result::Result::Ok(value)
            }

            /// A forward pass in training mode that records what [`backward`](Self::backward)
            /// needs, like calling a PyTorch model in `train()` mode.
            pub fn forward_train(
                &mut self,
                x: &#private::Batch<#input_type>,
            ) -> #private::Batch<#output_type> {
                let mut buffers = ::core::mem::take(&mut self.#buffers);
                buffers.resize(x.rows());
                buffers.record_input(x.as_slice());
                record_forward(self, x.as_slice(), &mut buffers);
                let mut output = #private::Batch::zeros(x.rows());
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
            /// [`Error::RowMismatch`](#private::Error::RowMismatch) when `grad_output`
            /// does not have the rows of the recorded pass.
            pub fn backward(
                &mut self,
                grad_output: &#private::Batch<#output_type>,
            ) -> ::core::result::Result<(), #private::Error> {
                let rows = grad_output.rows();
                if self.#buffers.recorded_rows(#input_width) != ::core::option::Option::Some(rows) {
                    return ::core::result::Result::Err(#private::Error::RowMismatch {
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

fn statements(steps: &[BackwardStep]) -> TokenStream {
    let private = crate::runtime::path();
    let statements = steps.iter().map(|step| match step {
        BackwardStep::Activation {
            activation,
            grad,
            width,
        } => {
            let (value, input, output) = (&activation.value, &activation.input, &activation.output);
            quote!(#private::RowActivation::backward_rows(&#value, #input, #output, #grad, #width);)
        }
        BackwardStep::Dropout { mask, grad } => {
            quote!(#private::Dropout::backward(#mask, #grad);)
        }
        BackwardStep::Params { field, input, grad } => {
            quote!(network.#field.backward_params(rows, #input, #grad, accumulate);)
        }
        BackwardStep::Input {
            field,
            grad,
            derivative,
            grad_before,
        } => {
            let (value, input, output) = (&derivative.value, &derivative.input, &derivative.output);
            quote!(network.#field.backward_input(rows, #grad, #input, #output, &#value, #grad_before);)
        }
        BackwardStep::ConvParams {
            field,
            input,
            grad,
            workspace,
        } => quote! {
            #private::conv_backward_params(&mut network.#field, rows, #input, #grad, #workspace, accumulate);
        },
        BackwardStep::ConvInput {
            field,
            grad,
            grad_before,
            workspace,
        } => quote! {
            #private::conv_backward_input(&network.#field, rows, #grad, #grad_before, #workspace);
        },
        BackwardStep::Norm {
            passes,
            field,
            input,
            grad,
            grad_before,
        } => {
            let backward = format_ident!("{passes}_backward");
            let grad_before = match grad_before {
                Some(grad_before) => quote!(::core::option::Option::Some(#grad_before)),
                None => quote!(::core::option::Option::None),
            };
            quote! {
                #private::#backward(&mut network.#field, rows, #input, #grad, #grad_before, accumulate);
            }
        }
        BackwardStep::PoolInput {
            field,
            input,
            grad,
            grad_before,
        } => quote!(#private::pool_backward(&network.#field, rows, #input, #grad, #grad_before);),
        BackwardStep::Route {
            grad,
            branch,
            derivative,
            width,
        } => {
            let derivative = derivative.as_ref().map(|d| {
                let (value, input, output) = (&d.value, &d.input, &d.output);
                quote!(#private::RowActivation::backward_rows(&#value, #input, #output, #branch, #width);)
            });
            quote! {
                #branch.copy_from_slice(#grad);
                #derivative
            }
        }
        BackwardStep::AddGrad { grad, sum } => quote!(#private::add_assign_rows(#grad, #sum);),
    });
    quote!(#(#statements)*)
}
