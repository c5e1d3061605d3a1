//! Log-softmax, row by row.

use super::{Builtin, RowActivation};
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Log-softmax over each row, PyTorch's `torch.nn.LogSoftmax(dim=1)` on a `[batch, features]`
/// batch: `yᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)`, `m = maxⱼ xⱼ`.
///
/// NOTE: the log-sum-exp is shifted by the row maximum, so no exponential overflows (rows of
/// ±1000 are fine) and the sum is at least 1, so its logarithm is finite.
///
/// Backward from the output only (the input is not read): the vector-Jacobian product
/// `∂L/∂x = g − e^y·Σⱼ gⱼ` for `g = ∂L/∂y` (`e^y` is the softmax). Not elementwise, so it
/// implements [`RowActivation`] and not [`Activation`](super::Activation). Followed by
/// [`NLLLoss`](crate::NLLLoss) it is cross-entropy, and the loss may use the combined
/// gradient `softmax(x) − onehot(t)` (the runtime knows it as a log-softmax).
///
/// ```
/// use nn_runtime::{LogSoftmax, RowActivation};
/// let mut y = [0.0; 2];
/// LogSoftmax.forward_row(&[1000.0, 1000.0], &mut y);
/// assert_eq!(y, [-std::f32::consts::LN_2; 2]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogSoftmax;

impl RowActivation for LogSoftmax {
    const BUILTIN: Builtin = Builtin::LogSoftmax;

    fn display_name(&self) -> &'static str {
        "LogSoftmax"
    }

    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // Over the features, the last axis, as `dim=1` of a `[batch, features]` batch.
        Ok(graph.node("LogSoftmax", &[x], &[Attribute::int("axis", -1)]))
    }

    fn forward_row(&self, input: &[f32], output: &mut [f32]) {
        let max = input.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = input.iter().map(|&x| (x - max).exp()).sum();
        let log_sum = sum.ln();
        for (y, &x) in output.iter_mut().zip(input) {
            *y = x - max - log_sum;
        }
    }

    fn backward_row(&self, _input: &[f32], output: &[f32], grad: &mut [f32]) {
        let total: f32 = grad.iter().sum();
        for (g, &y) in grad.iter_mut().zip(output) {
            *g -= y.exp() * total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_finite_at_extremes, check_row_backward_by_finite_differences,
    };

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&LogSoftmax, "log_softmax_dim1");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let x = [0.3, -1.2, 2.0, 0.0, -0.7, 1.1, 5.0];
        let g = [1.0, -0.5, 0.25, 2.0, -1.5, 0.0, 0.7];
        check_row_backward_by_finite_differences(&LogSoftmax, &x, &g);
        let shifted = x.map(|v| v - 100.0);
        check_row_backward_by_finite_differences(&LogSoftmax, &shifted, &g);
    }

    #[test]
    fn stable_at_extremes() {
        let mut y = [0.0; 3];
        LogSoftmax.forward_row(&[-1000.0, 1000.0, 0.0], &mut y);
        assert_eq!(y, [-2000.0, 0.0, -1000.0]);
        LogSoftmax.forward_row(&[-100.0, -100.0, -100.0], &mut y);
        let expected = -(3.0f32.ln());
        assert!(y.iter().all(|&v| (v - expected).abs() < 1e-6), "{y:?}");
        // exp(y) sums to 1.
        LogSoftmax.forward_row(&[3.0, -2.0, 0.5], &mut y);
        let total: f32 = y.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        // A one-element row is 0, with gradient 0.
        let mut one = [7.0];
        LogSoftmax.forward_row(&[1000.0], &mut one);
        assert_eq!(one, [0.0]);
        let mut grad = [5.0];
        LogSoftmax.backward_row(&[1000.0], &one, &mut grad);
        assert_eq!(grad, [0.0]);
        check_finite_at_extremes(&LogSoftmax);
    }

    #[test]
    fn names_and_fusion() {
        assert_eq!(LogSoftmax.display_name(), "LogSoftmax");
        assert_eq!(<LogSoftmax as RowActivation>::BUILTIN, Builtin::LogSoftmax);
    }
}
