//! Mish.

use super::Activation;
use crate::error::Result;
use crate::math;
use crate::onnx::OnnxGraph;

/// Mish, PyTorch's `torch.nn.Mish()`: `y = x·tanh(softplus(x))`, `softplus(x) = ln(1 + eˣ)`.
///
/// Derivative from the input: `tanh(sp) + x·σ(x)·(1 − tanh²(sp))`, `sp = softplus(x)`.
/// NOTE: unlike [`Softplus`](super::Softplus), PyTorch's Mish applies no threshold: the
/// softplus here is evaluated as `max(x, 0) + ln(1 + e^(−|x|))`, which never overflows, so
/// `mish(−100) ≈ −3.7e-42` (a subnormal, as in PyTorch) rather than 0.
///
/// ```
/// use nn_runtime::{Activation, Mish};
/// assert_eq!(Mish.forward(0.0), 0.0);
/// assert!((Mish.forward(1.0) - 0.865_098_4).abs() < 1e-6);
/// assert!((Mish.derivative(0.0, 0.0) - 0.6).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mish;

/// `ln(1 + eˣ)`, without overflow and accurate for large negative `x`.
#[inline(always)]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + math::ln_1p(math::exp(-x.abs()))
}

/// The logistic sigmoid, without overflow on either side.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + math::exp(-x))
    } else {
        let e = math::exp(x);
        e / (1.0 + e)
    }
}

impl Activation for Mish {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Mish", &[x], &[]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        x * math::tanh(softplus(x))
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        let t = math::tanh(softplus(x));
        t + x * sigmoid(x) * (1.0 - t * t)
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
        check_against_fixture(&Mish, "mish");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&Mish, &[-8.0, -2.0, -1.19, -0.3, 0.0, 0.7, 4.0]);
    }

    #[test]
    fn extremes() {
        assert_eq!(Mish.forward(100.0), 100.0);
        assert_eq!(Mish.forward(1000.0), 1000.0);
        assert_eq!(Mish.derivative(1000.0, 1000.0), 1.0);
        // No threshold: a subnormal, not 0 (PyTorch gives −3.9e-42).
        let tail = Mish.forward(-100.0);
        assert!(tail < 0.0 && tail > -1e-41, "{tail:e}");
        assert_eq!(Mish.forward(-1000.0), 0.0);
        assert_eq!(Mish.derivative(-1000.0, 0.0), 0.0);
        check_finite_at_extremes(&Mish);
    }
}
