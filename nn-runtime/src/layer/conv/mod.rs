//! The convolution both [`Conv1d`](super::Conv1d) and [`Conv2d`](super::Conv2d) run: a
//! two-dimensional one, of which a one-dimensional convolution is the case of an input one row
//! high. Its sizes (`shape.rs`), the rearrangements that make it matrix products
//! (`columns.rs`), and its passes (here), over the parameters the layers store.

mod columns;
mod generated;
mod shape;

use rand::Rng;

use super::{rows_of, rows_of_mut};
use crate::activation::Identity;
use crate::error::{Error, Result};
use crate::kernel::{self, Dims, WeightLayout};
pub use generated::{conv_backward_input, conv_backward_params, conv_forward, widest, ConvPasses};
pub(super) use shape::{invalid, positive, AxisNames, Names, Shape, Spec};

/// PyTorch's default initialisation (`kaiming_uniform_(a=√5)` and its bias rule): `weight`,
/// then `bias`, uniform in `±1/√fan_in`, drawn in that order from `rng`.
pub(super) fn initialise<R: Rng + ?Sized>(
    weight: &mut [f32],
    bias: &mut [f32],
    fan_in: usize,
    rng: &mut R,
) {
    let bound = 1.0 / (fan_in as f32).sqrt();
    for value in weight.iter_mut().chain(bias.iter_mut()) {
        *value = rng.gen_range(-bound..=bound);
    }
}

/// A layer's stored gradients, which a backward pass writes.
pub(super) struct Gradients<'a> {
    /// `[C_out, C_in/groups, kh, kw]`.
    pub weight: &'a mut [f32],
    /// `[C_out]`, or empty without a bias.
    pub bias: &'a mut [f32],
}

impl Shape {
    /// The output, `rows` rows of `C_out·P` values, of `rows` rows of `input` (`C_in·H·W`
    /// values): per group, `W·columns` on the kernels' matrix product, then the bias as the
    /// result is put in PyTorch's order. See [`Conv1d::forward`](super::Conv1d::forward).
    pub(super) fn forward(
        &self,
        weight: &[f32],
        bias: Option<&[f32]>,
        rows: usize,
        input: &[f32],
        output: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let output = rows_of_mut(output, rows, self.output_width)?;
        let Workspace {
            columns,
            products,
            spare,
        } = self.workspace(rows, workspace)?;
        if rows == 0 {
            return Ok(());
        }
        columns::im2col(self, rows, input, columns);
        let (m, patch, go) = self.product_sizes(rows);
        // The kernels add their bias per column of the product, which here is a position
        // rather than a channel: a zero one, and each channel's bias added as the outputs are
        // put in PyTorch's order.
        let zeros = &mut spare[..m];
        zeros.fill(0.0);
        for g in 0..self.spec.groups {
            // `outputs = W·columns`: the forward product `x·Wᵀ` with the group's filters as
            // `x` and its columns as a weight stored `[in, out]`, read in place.
            kernel::forward(
                dims(go, patch, m, WeightLayout::InOut),
                &weight[g * go * patch..][..go * patch],
                &columns[g * patch * m..][..patch * m],
                zeros,
                &mut products[g * go * m..][..go * m],
                None,
                &Identity,
            );
        }
        columns::write_outputs(self, rows, products, bias, output);
        Ok(())
    }

    /// Writes or adds the gradients of the weight and the bias, given `input`, the rows the
    /// forward pass read, and `grad_output`: per group, `dW = dz·columnsᵀ`, and `db = Σ dz`
    /// over every example and position. See
    /// [`Conv1d::backward_params`](super::Conv1d::backward_params).
    pub(super) fn backward_params(
        &self,
        gradients: Gradients<'_>,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        workspace: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let Workspace {
            columns,
            products,
            spare,
        } = self.workspace(rows, workspace)?;
        if rows == 0 {
            // No examples, no gradient.
            if !accumulate {
                gradients.weight.fill(0.0);
                gradients.bias.fill(0.0);
            }
            return Ok(());
        }
        columns::im2col(self, rows, input, columns);
        columns::read_outputs(self, rows, grad_output, products);
        let (m, patch, go) = self.product_sizes(rows);
        let (zeros, group_grad) = spare.split_at_mut(patch);
        let group_grad = &mut group_grad[..go * patch];
        zeros.fill(0.0);
        for g in 0..self.spec.groups {
            let weight_grad = &mut gradients.weight[g * go * patch..][..go * patch];
            // `dW = dz·columnsᵀ`: the forward product `x·Wᵀ` with the group's output gradient
            // as `x` and its columns as a weight stored `[out, in]`. It overwrites what it
            // writes, so an accumulated gradient is computed aside and added.
            let target = if accumulate {
                &mut *group_grad
            } else {
                &mut *weight_grad
            };
            kernel::forward(
                dims(go, m, patch, WeightLayout::OutIn),
                &products[g * go * m..][..go * m],
                &columns[g * patch * m..][..patch * m],
                zeros,
                target,
                None,
                &Identity,
            );
            if accumulate {
                for (sum, &value) in weight_grad.iter_mut().zip(&*group_grad) {
                    *sum += value;
                }
            }
        }
        // Each output channel's gradient is a row of the products.
        for (bias_grad, channel) in gradients.bias.iter_mut().zip(products.chunks_exact(m)) {
            let sum = columns::sum(channel);
            *bias_grad = if accumulate { *bias_grad + sum } else { sum };
        }
        Ok(())
    }

    /// The gradient of the loss with respect to the input, `rows` rows of `C_in·H·W` values,
    /// written to `grad_input`, from `grad_output`: per group, `dcolumns = Wᵀ·dz`, then each
    /// column's values added back onto the inputs they were read from (col2im). See
    /// [`Conv1d::backward_input`](super::Conv1d::backward_input).
    pub(super) fn backward_input(
        &self,
        weight: &[f32],
        rows: usize,
        grad_output: &[f32],
        grad_input: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let grad_input = rows_of_mut(grad_input, rows, self.input_width)?;
        let Workspace {
            columns,
            products,
            spare,
        } = self.workspace(rows, workspace)?;
        if rows == 0 {
            return Ok(());
        }
        columns::read_outputs(self, rows, grad_output, products);
        let (m, patch, go) = self.product_sizes(rows);
        let discarded = &mut spare[..patch];
        for g in 0..self.spec.groups {
            // `dcolumns = Wᵀ·dz` is what the weight-gradient product computes, `dzᵀ·x`, with
            // the group's filters as `dz` (rows of `[out, in]`) and its output gradient as `x`.
            // Its column sums, the filters' sums, are not wanted.
            kernel::weight_grad(
                dims(go, m, patch, WeightLayout::OutIn),
                &products[g * go * m..][..go * m],
                &weight[g * go * patch..][..go * patch],
                &mut columns[g * patch * m..][..patch * m],
                discarded,
                false,
            );
        }
        columns::col2im(self, rows, columns, grad_input);
        Ok(())
    }

    /// `(rows·P, patch, C_out/groups)`: the columns of each product, the rows of a group's
    /// columns, and the rows of its outputs.
    fn product_sizes(&self, rows: usize) -> (usize, usize, usize) {
        (rows * self.positions, self.patch, self.group_outputs)
    }

    /// `workspace`, checked to be long enough for `rows` rows, in its three parts.
    fn workspace<'a>(&self, rows: usize, workspace: &'a mut [f32]) -> Result<Workspace<'a>> {
        let needed = self.workspace_len(rows)?;
        let found = workspace.len();
        let workspace = workspace.get_mut(..needed).ok_or(Error::Workspace {
            rows,
            needed,
            found,
        })?;
        let m = rows * self.positions;
        let (columns, rest) = workspace.split_at_mut(m * self.patch * self.spec.groups);
        let (products, spare) = rest.split_at_mut(m * self.spec.out_channels);
        Ok(Workspace {
            columns,
            products,
            spare,
        })
    }
}

/// The parts of a pass's workspace.
struct Workspace<'a> {
    /// Every group's columns, `groups × patch × rows·P`, or their gradient.
    columns: &'a mut [f32],
    /// Every group's outputs, `C_out × rows·P`, or their gradient.
    products: &'a mut [f32],
    /// The rest: `max(rows·P, patch·(C_out/groups + 1))` values.
    spare: &'a mut [f32],
}

/// The kernels' dimensions of one group's product.
fn dims(rows: usize, inputs: usize, outputs: usize, layout: WeightLayout) -> Dims {
    Dims {
        rows,
        inputs,
        outputs,
        layout,
    }
}
