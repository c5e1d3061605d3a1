//! Layer normalisation, PyTorch's `LayerNorm`.

#[cfg(test)]
mod tests;

use ndarray::{ArrayView1, ArrayViewMut1};

use super::{check_eps, check_positive, moments, rows_of, rows_of_mut};
use crate::aligned::AlignedVec;
use crate::error::Result;
use crate::io::{NamedTensors, TensorVisitor, TensorVisitorMut};
use crate::optim::{ParameterVisitor, Parameters};

/// Layer normalisation, PyTorch's `torch.nn.LayerNorm(width, eps, elementwise_affine)`: each
/// row of `width` values is normalised by its own mean and (biased) variance, then, with
/// `elementwise_affine`, scaled and shifted value by value, `y[j] = (x[j] − mean) / √(var +
/// eps) · weight[j] + bias[j]`.
///
/// The statistics are each row's, in training and evaluation alike, so the layer has one
/// forward pass and keeps nothing between passes: the backward passes compute them again
/// from the input.
///
/// `weight` (initially 1) and `bias` (0), `[width]` each, are the parameters with
/// `elementwise_affine`; without, the layer has none. No pass allocates.
///
/// ```
/// use nn_runtime::LayerNorm;
///
/// let norm = LayerNorm::new(4, 1e-5, true)?;
/// let mut output = [0.0; 8];
/// norm.forward(2, &[1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 30.0], &mut output)?;
/// // Each row comes out with mean 0 and variance 1.
/// for row in output.chunks(4) {
///     assert!(row.iter().sum::<f32>().abs() < 1e-5);
///     assert!((row.iter().map(|y| y * y).sum::<f32>() / 4.0 - 1.0).abs() < 1e-4);
/// }
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    width: usize,
    eps: f32,
    elementwise_affine: bool,
    /// `[width]`, or empty without `elementwise_affine`.
    weight: AlignedVec,
    /// `[width]`, or empty without `elementwise_affine`.
    bias: AlignedVec,
    weight_grad: AlignedVec,
    bias_grad: AlignedVec,
}

impl LayerNorm {
    /// A layer normalising rows of `width` values, with PyTorch's initial weights (1) and
    /// biases (0) if `elementwise_affine`. PyTorch's defaults are `eps = 1e-5` and
    /// `elementwise_affine = true`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a zero `width`, and an
    /// `eps` that is negative or not finite.
    pub fn new(width: usize, eps: f32, elementwise_affine: bool) -> Result<Self> {
        let width = check_positive("LayerNorm width", width)?;
        let eps = check_eps("LayerNorm eps", eps)?;
        let parameters = if elementwise_affine { width } else { 0 };
        Ok(LayerNorm {
            width,
            eps,
            elementwise_affine,
            weight: std::iter::repeat_n(1.0, parameters).collect(),
            bias: AlignedVec::zeros(parameters),
            weight_grad: AlignedVec::zeros(parameters),
            bias_grad: AlignedVec::zeros(parameters),
        })
    }

    /// The values of a row, input or output.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The number added to each variance before its square root.
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// Whether the layer scales and shifts each value by a weight and a bias.
    pub fn elementwise_affine(&self) -> bool {
        self.elementwise_affine
    }

    /// The number of trainable values: `2·width` with `elementwise_affine`, else 0.
    pub fn parameter_count(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    /// The weight, `[width]`; `None` without `elementwise_affine`.
    pub fn weight(&self) -> Option<ArrayView1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayView1::from(&self.weight[..]))
    }

    /// The weight, `[width]`, for writing; `None` without `elementwise_affine`.
    pub fn weight_mut(&mut self) -> Option<ArrayViewMut1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayViewMut1::from(&mut self.weight[..]))
    }

    /// The bias, `[width]`; `None` without `elementwise_affine`.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayView1::from(&self.bias[..]))
    }

    /// The bias, `[width]`, for writing; `None` without `elementwise_affine`.
    pub fn bias_mut(&mut self) -> Option<ArrayViewMut1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayViewMut1::from(&mut self.bias[..]))
    }

    /// The gradient of the weight, `[width]`; `None` without `elementwise_affine`.
    pub fn weight_grad(&self) -> Option<ArrayView1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayView1::from(&self.weight_grad[..]))
    }

    /// The gradient of the bias, `[width]`; `None` without `elementwise_affine`.
    pub fn bias_grad(&self) -> Option<ArrayView1<'_, f32>> {
        self.elementwise_affine
            .then(|| ArrayView1::from(&self.bias_grad[..]))
    }

    /// The output, `rows` rows of [`width`](Self::width) values, of `rows` rows of `input`,
    /// each normalised by its own statistics.
    ///
    /// A row with a NaN or an infinity comes out all NaN, as in PyTorch; the other rows are
    /// not affected.
    ///
    /// `input` and `output` may be longer than `rows` rows: only their beginnings are used.
    ///
    /// # Errors
    /// [`Error::Length`](crate::Error::Length) when `input` or `output` holds fewer than
    /// `rows` rows; [`Error::TooLarge`](crate::Error::TooLarge) when so many rows overflow the
    /// address space. Nothing is written then.
    pub fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let input = rows_of(input, rows, self.width)?;
        let output = rows_of_mut(output, rows, self.width)?;
        for (x, y) in input
            .chunks_exact(self.width)
            .zip(output.chunks_exact_mut(self.width))
        {
            let statistics = self.statistics(x);
            for (j, (y, &x)) in y.iter_mut().zip(x).enumerate() {
                let normalised = statistics.normalise(x);
                *y = if self.elementwise_affine {
                    normalised * self.weight[j] + self.bias[j]
                } else {
                    normalised
                };
            }
        }
        Ok(())
    }

    /// Adds the gradients of the weight and the bias, given `input`, the rows the forward pass
    /// read, and `grad_output`, the gradient of the loss with respect to its output (`rows`
    /// rows each): `dweight[j] = Σ dy[j]·x̂[j]` and `dbias[j] = Σ dy[j]` over the rows, where
    /// `x̂` is the normalised input. Nothing to do without `elementwise_affine`.
    ///
    /// With `accumulate`, adds to the stored gradients as PyTorch's `backward()` does, until
    /// they are zeroed ([`Parameters::zero_grad`]); without, overwrites them.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `input` and `grad_output`; the gradients are
    /// unchanged then.
    pub fn backward_params(
        &mut self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        accumulate: bool,
    ) -> Result<()> {
        let input = rows_of(input, rows, self.width)?;
        let grad_output = rows_of(grad_output, rows, self.width)?;
        if !accumulate {
            self.weight_grad.fill(0.0);
            self.bias_grad.fill(0.0);
        }
        if !self.elementwise_affine {
            return Ok(());
        }
        for (x, dy) in input
            .chunks_exact(self.width)
            .zip(grad_output.chunks_exact(self.width))
        {
            let statistics = self.statistics(x);
            let gradients = self.weight_grad.iter_mut().zip(self.bias_grad.iter_mut());
            for ((weight_grad, bias_grad), (&x, &dy)) in gradients.zip(x.iter().zip(dy)) {
                *weight_grad += dy * statistics.normalise(x);
                *bias_grad += dy;
            }
        }
        Ok(())
    }

    /// The gradient of the loss with respect to the input, `rows` rows of
    /// [`width`](Self::width) values, written to `grad_input`: through each row's statistics
    /// as well as its values, `dx = (g − mean(g) − x̂·mean(g·x̂)) / √(var + eps)` with
    /// `g = dy·weight` (or `dy`) and the means over the row.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `input`, `grad_output` and `grad_input`; nothing is
    /// written then.
    pub fn backward_input(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        let width = self.width;
        let input = rows_of(input, rows, width)?;
        let grad_output = rows_of(grad_output, rows, width)?;
        let grad_input = rows_of_mut(grad_input, rows, width)?;
        let scaled = |j: usize, dy: f32| {
            let weight = if self.elementwise_affine {
                self.weight[j]
            } else {
                1.0
            };
            f64::from(dy) * f64::from(weight)
        };
        let rows = input
            .chunks_exact(width)
            .zip(grad_output.chunks_exact(width))
            .zip(grad_input.chunks_exact_mut(width));
        for ((x, dy), dx) in rows {
            let Statistics { mean, invstd, .. } = self.statistics(x);
            let normalised = |x: f32| (f64::from(x) - mean) * invstd;
            let (mut sum, mut dot) = (0.0f64, 0.0f64);
            for (j, (&x, &dy)) in x.iter().zip(dy).enumerate() {
                let g = scaled(j, dy);
                sum += g;
                dot += g * normalised(x);
            }
            let (mean_g, mean_dot) = (sum / width as f64, dot / width as f64);
            for (j, ((dx, &x), &dy)) in dx.iter_mut().zip(x).zip(dy).enumerate() {
                let g = scaled(j, dy);
                *dx = ((g - mean_g - normalised(x) * mean_dot) * invstd) as f32;
            }
        }
        Ok(())
    }

    /// The mean and `1/√(var + eps)` of a row.
    fn statistics(&self, row: &[f32]) -> Statistics {
        let (mean, squares) = moments(|| std::iter::once(row));
        let invstd = 1.0 / (squares / self.width as f64 + f64::from(self.eps)).sqrt();
        let high = mean as f32;
        Statistics {
            mean,
            invstd,
            high,
            low: (mean - f64::from(high)) as f32,
            invstd_f32: invstd as f32,
        }
    }

    /// Visits `weight` then `bias` under the given names, for optimizers: what a network does
    /// for each of its layers, with names such as `norm1.weight`. Nothing without
    /// `elementwise_affine`.
    pub fn visit_parameters_as<V: ParameterVisitor + ?Sized>(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut V,
    ) {
        if self.elementwise_affine {
            visitor.visit(weight_name, &mut self.weight, &mut self.weight_grad);
            visitor.visit(bias_name, &mut self.bias, &mut self.bias_grad);
        }
    }

    /// Visits `weight` then `bias` (`[width]` each) read-only under the given names, for
    /// saving, as PyTorch's `state_dict()` has them; nothing without `elementwise_affine`.
    pub fn visit_tensors_as(
        &self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitor<'_>,
    ) {
        if self.elementwise_affine {
            visitor(weight_name, &[self.width], &self.weight);
            visitor(bias_name, &[self.width], &self.bias);
        }
    }

    /// Visits `weight` then `bias` for writing, for loading; as
    /// [`visit_tensors_as`](Self::visit_tensors_as).
    pub fn visit_tensors_mut_as(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitorMut<'_>,
    ) {
        if self.elementwise_affine {
            visitor(weight_name, &[self.width], &mut self.weight);
            visitor(bias_name, &[self.width], &mut self.bias);
        }
    }
}

/// A row's statistics, in `f64` for the backward pass and as the forward pass uses them.
struct Statistics {
    mean: f64,
    invstd: f64,
    /// The mean in two `f32` parts, `high + low`: `x − high` is exact for values near the
    /// mean, so that rows far from 0 keep their deviations to the last digit.
    high: f32,
    low: f32,
    invstd_f32: f32,
}

impl Statistics {
    /// `(x − mean)/√(var + eps)` in `f32`.
    fn normalise(&self, x: f32) -> f32 {
        ((x - self.high) - self.low) * self.invstd_f32
    }
}

/// A lone layer's parameters under PyTorch's names for a lone `LayerNorm`: `weight`, `bias`.
impl Parameters for LayerNorm {
    fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
        self.visit_parameters_as("weight", "bias", visitor);
    }
}

/// A lone layer's tensors, as PyTorch's `state_dict()` of a lone `LayerNorm` names them:
/// `weight`, `bias`, or none without `elementwise_affine`.
impl NamedTensors for LayerNorm {
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.visit_tensors_as("weight", "bias", visitor);
    }

    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
        self.visit_tensors_mut_as("weight", "bias", visitor);
    }
}
