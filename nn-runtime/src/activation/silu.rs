//! SiLU (swish).

use super::Activation;
use crate::error::Result;
use crate::onnx::OnnxGraph;

/// Sigmoid linear unit, also called swish, PyTorch's `torch.nn.SiLU()`: `y = x·σ(x)`,
/// `σ(x) = 1/(1 + e⁻ˣ)`.
///
/// Derivative from the input: `σ(x)·(1 + x·(1 − σ(x)))`. σ is evaluated so that `e^(±x)` never
/// overflows into the result: `1/(1 + e⁻ˣ)` for `x ≥ 0`, `eˣ/(1 + eˣ)` below.
///
/// ```
/// use nn_runtime::{Activation, SiLU};
/// assert_eq!(SiLU.forward(0.0), 0.0);
/// assert!((SiLU.forward(1.0) - 0.731_058_6).abs() < 1e-6);
/// assert_eq!(SiLU.derivative(0.0, 0.0), 0.5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SiLU;

/// The logistic sigmoid, without overflow on either side.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + crate::math::exp(-x))
    } else {
        let e = crate::math::exp(x);
        e / (1.0 + e)
    }
}

impl Activation for SiLU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // ONNX has no SiLU before opset 24: `x·σ(x)`, as PyTorch exports it.
        let gate = graph.node("Sigmoid", &[x], &[]);
        Ok(graph.node("Mul", &[x, &gate], &[]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        x * sigmoid(x)
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        let s = sigmoid(x);
        s * (1.0 + x * (1.0 - s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_derivative_by_finite_differences, check_finite_at_extremes,
    };

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&SiLU, "silu");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&SiLU, &[-8.0, -2.0, -1.28, -0.3, 0.0, 0.7, 4.0]);
    }

    #[test]
    fn extremes() {
        assert_eq!(SiLU.forward(1000.0), 1000.0);
        assert_eq!(SiLU.derivative(1000.0, 1000.0), 1.0);
        assert_eq!(SiLU.forward(-1000.0), 0.0);
        assert_eq!(SiLU.derivative(-1000.0, 0.0), 0.0);
        // −100·e⁻¹⁰⁰ ≈ −3.7e-42 survives as a subnormal.
        assert!(SiLU.forward(-100.0) < 0.0);
        check_finite_at_extremes(&SiLU);
    }
}
