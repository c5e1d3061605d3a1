//! Batch normalisation, PyTorch's `BatchNorm1d` and `BatchNorm2d`.

#[cfg(test)]
mod tests;

use ndarray::{ArrayView1, ArrayViewMut1};

use super::{check_eps, check_positive, moments, rows_of, rows_of_mut};
use crate::aligned::AlignedVec;
use crate::error::{Error, Result};
use crate::io::{NamedTensors, TensorVisitor, TensorVisitorMut};
use crate::optim::{ParameterVisitor, Parameters};
use crate::size;

/// Batch normalisation, PyTorch's `torch.nn.BatchNorm1d` and `BatchNorm2d` with their
/// defaults `affine=True` and `track_running_stats=True`: each channel `c` is normalised by a
/// mean and a variance, then scaled and shifted, `y = (x − mean[c]) / √(var[c] + eps) ·
/// weight[c] + bias[c]`.
///
/// A row of a batch is one example in PyTorch's contiguous channel-major order, `C·P` values:
/// `P` positions per channel, 1 for `BatchNorm1d` on `[N, C]`, `L` on `[N, C, L]`, and `H·W`
/// for `BatchNorm2d` on `[N, C, H, W]`.
///
/// * In training ([`forward_train`](Self::forward_train)) the mean and variance are the
///   batch's, over its rows and positions (the biased variance, divided by their number), and
///   they update the running statistics: `running = (1 − momentum)·running + momentum·batch`,
///   with the unbiased variance for `running_var`, and `num_batches_tracked` counts the
///   passes. The backward passes use the statistics of the last training pass.
/// * In evaluation ([`forward_eval`](Self::forward_eval)) they are the running statistics.
///
/// `weight` and `bias` (γ and β, `[C]`, initially 1 and 0) are the parameters;
/// `running_mean` (0), `running_var` (1) and `num_batches_tracked` (0) are buffers, saved and
/// loaded with them under PyTorch's names.
///
/// No pass allocates: the per-channel statistics have their room from the start.
///
/// ```
/// use nn_runtime::BatchNorm;
///
/// // `BatchNorm2d(2)` on 3×3 images: rows of 2 channels × 9 positions.
/// let mut bn = BatchNorm::new(2, 9, 1e-5, 0.1)?;
/// let rows = 4;
/// let input: Vec<f32> = (0..rows * bn.width()).map(|i| (i % 7) as f32).collect();
/// let mut output = vec![0.0; input.len()];
/// bn.forward_train(rows, &input, &mut output)?;
/// // Each channel of the output has mean 0 over the batch.
/// let first_channel: f32 = output.chunks(9).step_by(2).flatten().sum();
/// assert!(first_channel.abs() < 1e-4);
/// assert_eq!(bn.num_batches_tracked(), 1);
/// assert!(bn.running_mean()[0] > 0.0);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    channels: usize,
    positions: usize,
    eps: f32,
    momentum: f32,
    /// γ, `[C]`.
    weight: AlignedVec,
    /// β, `[C]`.
    bias: AlignedVec,
    weight_grad: AlignedVec,
    bias_grad: AlignedVec,
    running_mean: AlignedVec,
    running_var: AlignedVec,
    num_batches_tracked: u64,
    /// The mean of each channel over the last training batch, which the backward passes use.
    /// In `f64`: rounded to `f32`, the mean of values far from 0 would move every deviation
    /// from it by as much as their spread's last digits.
    batch_mean: Vec<f64>,
    /// `1/√(var + eps)` of each channel over the last training batch, with the biased
    /// variance, likewise.
    batch_invstd: Vec<f64>,
    /// The unbiased variance of each channel over the last training batch: room to hold it
    /// until every channel's statistics are known to fit the running ones.
    batch_unbiased_var: Vec<f64>,
}

impl BatchNorm {
    /// A layer normalising `channels` channels of `positions` values each, with PyTorch's
    /// initial weights (1), biases (0) and running statistics (mean 0, variance 1). PyTorch's
    /// defaults are `eps = 1e-5` and `momentum = 0.1`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no channels or positions, a row of `channels·positions`
    /// values that overflows the address space, an `eps` that is negative or not finite, and a
    /// `momentum` outside `[0, 1]` (which PyTorch accepts, and which would make the running
    /// statistics diverge).
    pub fn new(channels: usize, positions: usize, eps: f32, momentum: f32) -> Result<Self> {
        let channels = check_positive("BatchNorm channels", channels)?;
        let positions = check_positive("BatchNorm positions", positions)?;
        size::checked_values(channels, positions).map_err(|_| Error::InvalidArgument {
            name: "BatchNorm positions",
            message: format!(
                "{channels} channels of {positions} positions overflow the address space"
            ),
        })?;
        let eps = check_eps("BatchNorm eps", eps)?;
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Error::InvalidArgument {
                name: "BatchNorm momentum",
                message: format!("must be in [0, 1], found {momentum}"),
            });
        }
        let ones = || std::iter::repeat_n(1.0, channels).collect::<AlignedVec>();
        Ok(BatchNorm {
            channels,
            positions,
            eps,
            momentum,
            weight: ones(),
            bias: AlignedVec::zeros(channels),
            weight_grad: AlignedVec::zeros(channels),
            bias_grad: AlignedVec::zeros(channels),
            running_mean: AlignedVec::zeros(channels),
            running_var: ones(),
            num_batches_tracked: 0,
            batch_mean: vec![0.0; channels],
            batch_invstd: vec![1.0 / (1.0 + f64::from(eps)).sqrt(); channels],
            batch_unbiased_var: vec![1.0; channels],
        })
    }

    /// The number of channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The values per channel of a row, `P`.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// The values of a row, input or output: `C·P`.
    pub fn width(&self) -> usize {
        self.channels * self.positions
    }

    /// The number added to each variance before its square root.
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// The weight of each training batch's statistics in the running ones.
    pub fn momentum(&self) -> f32 {
        self.momentum
    }

    /// The number of trainable values: `2·C` (weight and bias).
    pub fn parameter_count(&self) -> usize {
        2 * self.channels
    }

    /// γ, the scale of each channel, `[C]`.
    pub fn weight(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.weight[..])
    }

    /// γ, for writing.
    pub fn weight_mut(&mut self) -> ArrayViewMut1<'_, f32> {
        ArrayViewMut1::from(&mut self.weight[..])
    }

    /// β, the shift of each channel, `[C]`.
    pub fn bias(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.bias[..])
    }

    /// β, for writing.
    pub fn bias_mut(&mut self) -> ArrayViewMut1<'_, f32> {
        ArrayViewMut1::from(&mut self.bias[..])
    }

    /// The gradient of γ, `[C]`.
    pub fn weight_grad(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.weight_grad[..])
    }

    /// The gradient of β, `[C]`.
    pub fn bias_grad(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.bias_grad[..])
    }

    /// The running mean of each channel, `[C]`, which evaluation normalises with.
    pub fn running_mean(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.running_mean[..])
    }

    /// The running (unbiased) variance of each channel, `[C]`, which evaluation normalises
    /// with.
    pub fn running_var(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.running_var[..])
    }

    /// The number of training passes the running statistics have seen.
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked
    }

    /// Checks that a batch of `rows` rows can be normalised in training: PyTorch refuses one
    /// value per channel, whose variance means nothing. Generated code checks this before a
    /// training step, so that the step fails with the error rather than the pass.
    ///
    /// # Errors
    /// [`Error::OneValuePerChannel`] when `rows·P` is 1.
    pub fn check_training_rows(&self, rows: usize) -> Result<()> {
        if rows == 1 && self.positions == 1 {
            Err(Error::OneValuePerChannel)
        } else {
            Ok(())
        }
    }

    /// The output in training, `rows` rows of [`width`](Self::width) values, of `rows` rows
    /// of `input`: normalised with each channel's mean and biased variance over the batch's
    /// rows and positions, which are kept for the backward passes. The running statistics
    /// take them in, with the unbiased variance, and `num_batches_tracked` grows by one.
    ///
    /// A batch without rows writes nothing and changes only `num_batches_tracked`, as in
    /// PyTorch. A batch whose statistics do not fit in `f32` (a NaN or an infinity in the
    /// input, or a variance above `f32::MAX`) leaves the running statistics and the count as
    /// they were, all channels' alike, where PyTorch would store the NaN or the infinity and
    /// every later evaluation would turn to NaN. A NaN or an infinity in the input also makes
    /// NaNs of its channel's output, so the loss is not finite and a training step reports it
    /// ([`Error::NonFiniteLoss`]) and updates nothing.
    ///
    /// `input` and `output` may be longer than `rows` rows: only their beginnings are used.
    ///
    /// # Errors
    /// [`Error::OneValuePerChannel`] for one row of one position
    /// ([`check_training_rows`](Self::check_training_rows)); [`Error::Length`] when `input` or
    /// `output` holds fewer than `rows` rows; [`Error::TooLarge`] when so many rows overflow the
    /// address space. Nothing is written or updated then.
    pub fn forward_train(&mut self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let width = self.width();
        let input = rows_of(input, rows, width)?;
        let output = rows_of_mut(output, rows, width)?;
        self.check_training_rows(rows)?;
        if rows == 0 {
            self.num_batches_tracked += 1;
            return Ok(());
        }
        let (positions, eps) = (self.positions, f64::from(self.eps));
        let count = (rows * positions) as f64;
        for c in 0..self.channels {
            let (mean, squares) = moments(|| channel(input, width, positions, c));
            self.batch_mean[c] = mean;
            self.batch_invstd[c] = 1.0 / (squares / count + eps).sqrt();
            // `count > 1` was checked above.
            self.batch_unbiased_var[c] = squares / (count - 1.0);
        }
        self.update_running_statistics();
        for c in 0..self.channels {
            let mean = self.batch_mean[c];
            let scale = (self.batch_invstd[c] * f64::from(self.weight[c])) as f32;
            let values = c * positions..(c + 1) * positions;
            normalise(input, output, width, values, mean, scale, self.bias[c]);
        }
        Ok(())
    }

    /// Moves the running statistics towards the last batch's, unless any of the results is not
    /// finite; counts the batch likewise.
    fn update_running_statistics(&mut self) {
        // In `f64`, as PyTorch does, and rounded once.
        let momentum = f64::from(self.momentum);
        let moved = |running: f32, batch: f64| {
            ((1.0 - momentum) * f64::from(running) + momentum * batch) as f32
        };
        let finite = (0..self.channels).all(|c| {
            moved(self.running_mean[c], self.batch_mean[c]).is_finite()
                && moved(self.running_var[c], self.batch_unbiased_var[c]).is_finite()
        });
        if !finite {
            return;
        }
        for c in 0..self.channels {
            self.running_mean[c] = moved(self.running_mean[c], self.batch_mean[c]);
            self.running_var[c] = moved(self.running_var[c], self.batch_unbiased_var[c]);
        }
        self.num_batches_tracked += 1;
    }

    /// The output in evaluation, `rows` rows of [`width`](Self::width) values, of `rows` rows
    /// of `input`: normalised with the running statistics. Nothing is kept or updated.
    ///
    /// # Errors
    /// [`Error::Length`] when `input` or `output` holds fewer than `rows` rows;
    /// [`Error::TooLarge`] when so many rows overflow the address space. Nothing is written
    /// then.
    pub fn forward_eval(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let width = self.width();
        let input = rows_of(input, rows, width)?;
        let output = rows_of_mut(output, rows, width)?;
        let eps = f64::from(self.eps);
        for c in 0..self.channels {
            let invstd = 1.0 / (f64::from(self.running_var[c]) + eps).sqrt();
            let scale = (invstd * f64::from(self.weight[c])) as f32;
            let mean = f64::from(self.running_mean[c]);
            let values = c * self.positions..(c + 1) * self.positions;
            normalise(input, output, width, values, mean, scale, self.bias[c]);
        }
        Ok(())
    }

    /// Adds the gradients of γ and β, given `input`, the rows the last training pass read,
    /// and `grad_output`, the gradient of the loss with respect to its output (`rows` rows
    /// each): `dγ[c] = Σ dy·x̂` and `dβ[c] = Σ dy` over the channel's values, where `x̂ = (x −
    /// mean)/√(var + eps)` with the statistics that pass kept.
    ///
    /// With `accumulate`, adds to the stored gradients as PyTorch's `backward()` does, until
    /// they are zeroed ([`Parameters::zero_grad`]); without, overwrites them.
    ///
    /// # Errors
    /// As [`forward_eval`](Self::forward_eval), for `input` and `grad_output`; the gradients
    /// are unchanged then.
    pub fn backward_params(
        &mut self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        accumulate: bool,
    ) -> Result<()> {
        let width = self.width();
        let input = rows_of(input, rows, width)?;
        let grad_output = rows_of(grad_output, rows, width)?;
        for c in 0..self.channels {
            let sums = self.gradient_sums(input, grad_output, c);
            let weight_grad = (sums.dot * self.batch_invstd[c]) as f32;
            let bias_grad = sums.grad as f32;
            if accumulate {
                self.weight_grad[c] += weight_grad;
                self.bias_grad[c] += bias_grad;
            } else {
                self.weight_grad[c] = weight_grad;
                self.bias_grad[c] = bias_grad;
            }
        }
        Ok(())
    }

    /// The gradient of the loss with respect to the input of the last training pass, `rows`
    /// rows of [`width`](Self::width) values, written to `grad_input`: through the batch's
    /// statistics as well as the values, `dx = γ/√(var + eps) · (dy − mean(dy) − x̂·mean(dy·x̂))`
    /// with the means over the channel's values.
    ///
    /// # Errors
    /// As [`forward_eval`](Self::forward_eval), for `input`, `grad_output` and `grad_input`;
    /// nothing is written then.
    pub fn backward_input(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        let width = self.width();
        let input = rows_of(input, rows, width)?;
        let grad_output = rows_of(grad_output, rows, width)?;
        let grad_input = rows_of_mut(grad_input, rows, width)?;
        if rows == 0 {
            return Ok(());
        }
        let positions = self.positions;
        let count = (rows * positions) as f64;
        for c in 0..self.channels {
            let sums = self.gradient_sums(input, grad_output, c);
            let (mean, invstd) = (self.batch_mean[c], self.batch_invstd[c]);
            // As PyTorch's kernel: `dx = (dy − Σdy/n − (x − mean)·k)·invstd·γ`, where
            // `k = Σ dy·(x − mean) · invstd² / n`.
            let k = sums.dot * invstd * invstd / count;
            let grad_mean = sums.grad / count;
            let scale = invstd * f64::from(self.weight[c]);
            let rows = input
                .chunks_exact(width)
                .zip(grad_output.chunks_exact(width))
                .zip(grad_input.chunks_exact_mut(width));
            for ((x, dy), dx) in rows {
                let range = c * positions..(c + 1) * positions;
                for ((dx, &x), &dy) in dx[range.clone()]
                    .iter_mut()
                    .zip(&x[range.clone()])
                    .zip(&dy[range])
                {
                    let centred = f64::from(x) - mean;
                    *dx = ((f64::from(dy) - grad_mean - centred * k) * scale) as f32;
                }
            }
        }
        Ok(())
    }

    /// `Σ dy` and `Σ dy·(x − mean)` over channel `c`, with the last training batch's mean.
    fn gradient_sums(&self, input: &[f32], grad_output: &[f32], c: usize) -> GradientSums {
        let (width, positions) = (self.width(), self.positions);
        let mean = self.batch_mean[c];
        let mut sums = GradientSums {
            grad: 0.0,
            dot: 0.0,
        };
        let runs =
            channel(input, width, positions, c).zip(channel(grad_output, width, positions, c));
        // Four interleaved partial sums of each, as `sum_by` keeps.
        let (mut grad, mut dot) = ([0.0f64; 4], [0.0f64; 4]);
        for (x, dy) in runs {
            let (xs, dys) = (x.chunks_exact(4), dy.chunks_exact(4));
            for (&x, &dy) in xs.remainder().iter().zip(dys.remainder()) {
                sums.grad += f64::from(dy);
                sums.dot += f64::from(dy) * (f64::from(x) - mean);
            }
            for (x, dy) in xs.zip(dys) {
                for lane in 0..4 {
                    grad[lane] += f64::from(dy[lane]);
                    dot[lane] += f64::from(dy[lane]) * (f64::from(x[lane]) - mean);
                }
            }
        }
        sums.grad += (grad[0] + grad[1]) + (grad[2] + grad[3]);
        sums.dot += (dot[0] + dot[1]) + (dot[2] + dot[3]);
        sums
    }

    /// Visits `weight` then `bias` under the given names, for optimizers: what a network does
    /// for each of its layers, with names such as `bn1.weight`. The running statistics are not
    /// parameters.
    pub fn visit_parameters_as<V: ParameterVisitor + ?Sized>(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut V,
    ) {
        visitor.visit(weight_name, &mut self.weight, &mut self.weight_grad);
        visitor.visit(bias_name, &mut self.bias, &mut self.bias_grad);
    }

    /// Visits the layer's tensors read-only, for saving, as PyTorch's `state_dict()` names and
    /// orders them after `prefix` (`bn1` gives `bn1.weight`; an empty one gives `weight`):
    /// `weight`, `bias`, `running_mean`, `running_var` (`[C]` each) and `num_batches_tracked`
    /// (a scalar, shape `[]`).
    ///
    /// The count is visited as one `f32` value, exact up to 2²⁴ passes; files hold it as
    /// PyTorch does, an `int64` ([`io::is_count`](crate::io::is_count)).
    pub fn visit_tensors_as(&self, prefix: &str, visitor: &mut TensorVisitor<'_>) {
        let name = |tensor: &str| tensor_name(prefix, tensor);
        let shape = [self.channels];
        visitor(&name("weight"), &shape, &self.weight);
        visitor(&name("bias"), &shape, &self.bias);
        visitor(&name("running_mean"), &shape, &self.running_mean);
        visitor(&name("running_var"), &shape, &self.running_var);
        let count = [self.num_batches_tracked as f32];
        visitor(&name("num_batches_tracked"), &[], &count);
    }

    /// Visits the same tensors for writing, for loading. A count written as a negative number
    /// or NaN reads as 0.
    pub fn visit_tensors_mut_as(&mut self, prefix: &str, visitor: &mut TensorVisitorMut<'_>) {
        let name = |tensor: &str| tensor_name(prefix, tensor);
        let shape = [self.channels];
        visitor(&name("weight"), &shape, &mut self.weight);
        visitor(&name("bias"), &shape, &mut self.bias);
        visitor(&name("running_mean"), &shape, &mut self.running_mean);
        visitor(&name("running_var"), &shape, &mut self.running_var);
        let mut count = [self.num_batches_tracked as f32];
        visitor(&name("num_batches_tracked"), &[], &mut count);
        // `as` saturates: a negative count or NaN becomes 0.
        self.num_batches_tracked = count[0].round() as u64;
    }
}

/// `Σ dy` and `Σ dy·(x − mean)` over a channel.
struct GradientSums {
    grad: f64,
    dot: f64,
}

/// `{prefix}.{tensor}`, or `tensor` alone for an empty prefix.
fn tensor_name(prefix: &str, tensor: &str) -> String {
    if prefix.is_empty() {
        tensor.to_owned()
    } else {
        format!("{prefix}.{tensor}")
    }
}

/// The values of channel `c` in each row of `values`: a run of `positions` values per row.
fn channel(
    values: &[f32],
    width: usize,
    positions: usize,
    c: usize,
) -> impl Iterator<Item = &[f32]> + '_ {
    values
        .chunks_exact(width)
        .map(move |row| &row[c * positions..(c + 1) * positions])
}

/// Writes `values` (one channel's) of each output row: `(x − mean)·scale + shift`.
///
/// In `f32`, with the mean in two parts: `x − high` is exact for the values near the mean,
/// and `low` is what `high` leaves out of it, so that values far from 0 keep their deviations
/// to the last digit.
fn normalise(
    input: &[f32],
    output: &mut [f32],
    width: usize,
    values: std::ops::Range<usize>,
    mean: f64,
    scale: f32,
    shift: f32,
) {
    let high = mean as f32;
    let low = (mean - f64::from(high)) as f32;
    for (x, y) in input
        .chunks_exact(width)
        .zip(output.chunks_exact_mut(width))
    {
        for (y, &x) in y[values.clone()].iter_mut().zip(&x[values.clone()]) {
            *y = ((x - high) - low) * scale + shift;
        }
    }
}

/// A lone layer's parameters under PyTorch's names for a lone `BatchNorm1d`: `weight`, `bias`.
impl Parameters for BatchNorm {
    fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
        self.visit_parameters_as("weight", "bias", visitor);
    }
}

/// A lone layer's tensors, as PyTorch's `state_dict()` of a lone `BatchNorm1d` names them:
/// `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`.
impl NamedTensors for BatchNorm {
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.visit_tensors_as("", visitor);
    }

    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
        self.visit_tensors_mut_as("", visitor);
    }
}
