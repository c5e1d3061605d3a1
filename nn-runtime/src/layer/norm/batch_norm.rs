//! Batch normalisation, PyTorch's `BatchNorm1d` and `BatchNorm2d`.

#[cfg(test)]
mod tests;

use ndarray::{ArrayView1, ArrayViewMut1};

use super::{check_eps, check_positive, moments, rows_of, rows_of_mut};
use crate::aligned::AlignedVec;
use crate::error::{Error, Result};
use crate::io::{NamedTensors, TensorVisitor, TensorVisitorMut};
use crate::kernel;
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
    /// Each channel's statistics over the last training batch, which the backward passes use.
    batch: Vec<BatchStatistics>,
    /// Room for each channel's gradient sums in [`backward`](Self::backward).
    sums: Vec<GradientSums>,
}

/// One channel's statistics over a training batch, in `f64`: rounded to `f32`, the mean of
/// values far from 0 would move every deviation from it by as much as their spread's last
/// digits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BatchStatistics {
    mean: f64,
    /// `1/√(var + eps)`, with the biased variance.
    invstd: f64,
    /// The unbiased variance, held until every channel's statistics are known to fit the
    /// running ones.
    unbiased_var: f64,
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
            batch: vec![
                BatchStatistics {
                    mean: 0.0,
                    invstd: 1.0 / (1.0 + f64::from(eps)).sqrt(),
                    unbiased_var: 1.0,
                };
                channels
            ],
            sums: vec![GradientSums::default(); channels],
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
        let (weight, bias) = (&self.weight, &self.bias);
        let output = Some((output, positions));
        kernel::for_each_channel(shared(input), &mut self.batch, output, &|c, output| {
            let (mean, squares) = moments(|| channel(input, width, positions, c));
            let invstd = 1.0 / (squares / count + eps).sqrt();
            let scale = (invstd * f64::from(weight[c])) as f32;
            normalise(
                channel(input, width, positions, c),
                output,
                mean,
                scale,
                bias[c],
            );
            BatchStatistics {
                mean,
                invstd,
                // `count > 1` was checked above.
                unbiased_var: squares / (count - 1.0),
            }
        });
        self.update_running_statistics();
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
            moved(self.running_mean[c], self.batch[c].mean).is_finite()
                && moved(self.running_var[c], self.batch[c].unbiased_var).is_finite()
        });
        if !finite {
            return;
        }
        for c in 0..self.channels {
            self.running_mean[c] = moved(self.running_mean[c], self.batch[c].mean);
            self.running_var[c] = moved(self.running_var[c], self.batch[c].unbiased_var);
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
        let (eps, positions) = (f64::from(self.eps), self.positions);
        let output = Some((output, positions));
        // No result per channel: a vector of `()` allocates nothing.
        let mut done = vec![(); self.channels];
        kernel::for_each_channel(shared(input), &mut done, output, &|c, output| {
            let invstd = 1.0 / (f64::from(self.running_var[c]) + eps).sqrt();
            let scale = (invstd * f64::from(self.weight[c])) as f32;
            let mean = f64::from(self.running_mean[c]);
            let input = channel(input, width, positions, c);
            normalise(input, output, mean, scale, self.bias[c]);
        });
        Ok(())
    }

    /// Both backward passes at once, with each channel's gradient sums taken once: the
    /// gradients of γ and β as [`backward_params`](Self::backward_params) adds or writes them,
    /// and, given `grad_input`, the input gradient as
    /// [`backward_input`](Self::backward_input) writes it.
    ///
    /// # Errors
    /// As [`forward_eval`](Self::forward_eval), for `input`, `grad_output` and `grad_input`;
    /// nothing is written then.
    pub fn backward(
        &mut self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: Option<&mut [f32]>,
        accumulate: bool,
    ) -> Result<()> {
        let width = self.width();
        let input = rows_of(input, rows, width)?;
        let grad_output = rows_of(grad_output, rows, width)?;
        let grad_input = grad_input
            .map(|grad_input| rows_of_mut(grad_input, rows, width))
            .transpose()?;
        // Field by field rather than `of_last_batch`: `self.sums` is written meanwhile.
        let statistics = Statistics {
            positions: self.positions,
            batch: &self.batch,
            weight: &self.weight,
        };
        let grad_input = grad_input.map(|grad_input| (grad_input, self.positions));
        kernel::for_each_channel(
            shared(input),
            &mut self.sums,
            grad_input,
            &|c, grad_input| {
                let sums = statistics.gradient_sums(input, grad_output, c);
                statistics.input_gradient(rows, input, grad_output, c, sums, grad_input);
                sums
            },
        );
        for (c, sums) in self.sums.iter().enumerate() {
            let weight_grad = (sums.dot * self.batch[c].invstd) as f32;
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
        self.backward(rows, input, grad_output, None, accumulate)
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
        let statistics = Statistics::of_last_batch(self);
        let grad_input = Some((grad_input, self.positions));
        let mut done = vec![(); self.channels];
        kernel::for_each_channel(shared(input), &mut done, grad_input, &|c, grad_input| {
            let sums = statistics.gradient_sums(input, grad_output, c);
            statistics.input_gradient(rows, input, grad_output, c, sums, grad_input);
        });
        Ok(())
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
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct GradientSums {
    grad: f64,
    dot: f64,
}

/// What the backward passes read of a layer: the statistics of its last training pass and γ.
struct Statistics<'a> {
    positions: usize,
    batch: &'a [BatchStatistics],
    weight: &'a [f32],
}

impl<'a> Statistics<'a> {
    fn of_last_batch(layer: &'a BatchNorm) -> Self {
        Statistics {
            positions: layer.positions,
            batch: &layer.batch,
            weight: &layer.weight,
        }
    }

    fn width(&self) -> usize {
        self.batch.len() * self.positions
    }

    /// `Σ dy` and `Σ dy·(x − mean)` over channel `c` of the rows of `input` and `grad_output`.
    fn gradient_sums(&self, input: &[f32], grad_output: &[f32], c: usize) -> GradientSums {
        let (positions, mean) = (self.positions, self.batch[c].mean);
        let width = self.width();
        let mut sums = GradientSums::default();
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

    /// Channel `c`'s input gradient, into `grad_input`, one run per row, from its sums.
    fn input_gradient<'g>(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        c: usize,
        sums: GradientSums,
        grad_input: impl Iterator<Item = &'g mut [f32]>,
    ) {
        let BatchStatistics { mean, invstd, .. } = self.batch[c];
        let (positions, width) = (self.positions, self.width());
        let count = (rows * positions) as f64;
        // As PyTorch's kernel: `dx = (dy − Σdy/n − (x − mean)·k)·invstd·γ`, where
        // `k = Σ dy·(x − mean) · invstd² / n`.
        let k = sums.dot * invstd * invstd / count;
        let grad_mean = sums.grad / count;
        let scale = invstd * f64::from(self.weight[c]);
        let runs =
            channel(input, width, positions, c).zip(channel(grad_output, width, positions, c));
        for ((x, dy), dx) in runs.zip(grad_input) {
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let centred = f64::from(x) - mean;
                *dx = ((f64::from(dy) - grad_mean - centred * k) * scale) as f32;
            }
        }
    }
}

/// Values a pass must cover before it shares its channels with the helper thread: below,
/// waking the helper costs more than it saves.
const SHARED_VALUES: usize = 1 << 15;

/// Whether a pass over `values` shares its channels between two threads. Each channel's
/// results are the same either way.
fn shared(values: &[f32]) -> bool {
    values.len() >= SHARED_VALUES
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

/// Writes one channel's values of each output row, `(x − mean)·scale + shift`, from its runs
/// of input.
///
/// In `f32`, with the mean in two parts: `x − high` is exact for the values near the mean,
/// and `low` is what `high` leaves out of it, so that values far from 0 keep their deviations
/// to the last digit.
fn normalise<'a, 'b>(
    input: impl Iterator<Item = &'a [f32]>,
    output: impl Iterator<Item = &'b mut [f32]>,
    mean: f64,
    scale: f32,
    shift: f32,
) {
    let high = mean as f32;
    let low = (mean - f64::from(high)) as f32;
    for (x, y) in input.zip(output) {
        for (y, &x) in y.iter_mut().zip(x) {
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
