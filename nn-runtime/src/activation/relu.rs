//! ReLU.

use super::{Activation, Builtin};
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Rectified linear unit, PyTorch's `torch.nn.ReLU()`: `y = max(x, 0)`.
///
/// Derivative: 1 where `x > 0`, else 0 (PyTorch's choice at the kink `x = 0`). Between two
/// linear layers, both passes run inside the layers' matrix products: the forward product
/// stores `max(z, 0)`, and the next layer's input-gradient product keeps its result where the
/// output is above zero and stores `+0` elsewhere, a select as in PyTorch (so a `NaN` gradient
/// of an inactive unit becomes 0 there).
///
/// ```
/// use nn_runtime::{Activation, ReLU};
/// assert_eq!(ReLU.forward(-2.0), 0.0);
/// assert_eq!(ReLU.derivative(0.0, 0.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct ReLU;

impl Activation for ReLU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Relu", &[x], &[]))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        // Not `x.max(0.0)`, which turns NaN into 0: PyTorch lets NaN through, and so must we,
        // or a poisoned input would train silently.
        if x < 0.0 {
            0.0
        } else {
            x
        }
    }

    /// From the output alone (`y > 0` exactly when `x > 0`): the forward product of a layer
    /// followed by ReLU applies it as it stores, and does not keep `x`.
    #[inline]
    fn derivative(&self, _x: f32, y: f32) -> f32 {
        if y > 0.0 {
            1.0
        } else {
            0.0
        }
    }

    const BUILTIN: Builtin = Builtin::ReLU;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_derivative_by_finite_differences, check_finite_at_extremes,
    };

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&ReLU, "relu");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&ReLU, &[-3.0, -0.5, -0.05, 0.05, 0.5, 3.0]);
    }

    #[test]
    fn kink_and_extremes() {
        assert_eq!(ReLU.forward(0.0), 0.0);
        assert_eq!(ReLU.derivative(0.0, 0.0), 0.0);
        assert_eq!(ReLU.derivative(1e-30, 1e-30), 1.0);
        assert_eq!(ReLU.forward(-1000.0), 0.0);
        assert_eq!(ReLU.forward(1000.0), 1000.0);
        check_finite_at_extremes(&ReLU);
    }
}
