//! Softplus.

use super::Activation;
use crate::error::Result;
use crate::math;
use crate::onnx::OnnxGraph;

/// Softplus, PyTorch's `torch.nn.Softplus(beta=1.0, threshold=20.0)`:
/// `y = ln(1 + e^(βx))/β` where `βx ≤ threshold`, else `y = x`.
///
/// Derivative from the input: `σ(βx) = e^(βx)/(1 + e^(βx))` where `βx ≤ threshold`, else 1.
/// The threshold test is strict, as in PyTorch: `βx = threshold` still takes the logarithm
/// (which at the default threshold 20 rounds to `x` anyway). The logarithm is evaluated as
/// `max(βx, 0) + ln(1 + e^(−|βx|))`, so it never overflows, even with a large threshold.
/// `β` must be positive. [`Default`] is PyTorch's `β = 1`, `threshold = 20`.
///
/// ```
/// use nn_runtime::{Activation, Softplus};
/// let act = Softplus::default();
/// assert!((act.forward(0.0) - std::f32::consts::LN_2).abs() < 1e-7);
/// assert_eq!(act.derivative(0.0, 0.0), 0.5);
/// assert_eq!(act.forward(25.0), 25.0);
/// assert!((Softplus::new(2.0, 20.0).forward(0.0) - 0.346_573_6).abs() < 1e-7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softplus {
    /// Sharpness `β` (PyTorch's `beta`, default 1): `ln(1 + e^(βx))/β` tends to `max(x, 0)` as
    /// `β` grows.
    pub beta: f32,
    /// Above `βx > threshold` the function is the identity (PyTorch's `threshold`, default 20).
    pub threshold: f32,
}

impl Softplus {
    /// Softplus with sharpness `beta` (positive) and linear above `beta·x > threshold`.
    pub const fn new(beta: f32, threshold: f32) -> Self {
        Self { beta, threshold }
    }
}

impl Default for Softplus {
    /// PyTorch's defaults, `beta = 1`, `threshold = 20`.
    fn default() -> Self {
        Self::new(1.0, 20.0)
    }
}

impl Activation for Softplus {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // ONNX's Softplus has neither β nor the threshold: `softplus(β·x)/β`, and `x` itself
        // where `β·x` is above the threshold, as PyTorch exports it.
        let (beta, threshold) = (graph.constant(self.beta), graph.constant(self.threshold));
        let scaled = graph.node("Mul", &[x, &beta], &[]);
        let soft = graph.node("Softplus", &[&scaled], &[]);
        let soft = graph.node("Div", &[&soft, &beta], &[]);
        let linear = graph.node("Greater", &[&scaled, &threshold], &[]);
        Ok(graph.node("Where", &[&linear, x, &soft], &[]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        let z = x * self.beta;
        if z > self.threshold {
            x
        } else {
            (z.max(0.0) + math::ln_1p(math::exp(-z.abs()))) / self.beta
        }
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        let z = x * self.beta;
        if z > self.threshold {
            1.0
        } else if z >= 0.0 {
            1.0 / (1.0 + math::exp(-z))
        } else {
            let e = math::exp(z);
            e / (1.0 + e)
        }
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
        check_against_fixture(&Softplus::default(), "softplus");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-8.0, -2.0, -0.3, 0.0, 0.7, 4.0, 15.0, 25.0];
        check_derivative_by_finite_differences(&Softplus::default(), &points);
        check_derivative_by_finite_differences(&Softplus::new(2.0, 20.0), &points[..6]);
        check_derivative_by_finite_differences(&Softplus::new(0.5, 1000.0), &points);
    }

    #[test]
    fn threshold_and_extremes() {
        let act = Softplus::default();
        // Strictly above the threshold: the identity, derivative exactly 1.
        assert_eq!(act.forward(20.5), 20.5);
        assert_eq!(act.derivative(20.5, 20.5), 1.0);
        // At the threshold: the logarithm, which rounds to 20 (σ(20) rounds to 1 as well).
        assert_eq!(act.forward(20.0), 20.0);
        // The test is strict: visible with a low threshold, where the logarithm is not x.
        let low = Softplus::new(1.0, 2.0);
        assert!((low.forward(2.0) - 2.126_928).abs() < 1e-6);
        assert!((low.derivative(2.0, 2.126_928) - 0.880_797_1).abs() < 1e-6);
        assert_eq!(low.forward(2.5), 2.5);
        assert_eq!(low.derivative(2.5, 2.5), 1.0);
        assert_eq!(act.forward(1000.0), 1000.0);
        assert_eq!(act.forward(-1000.0), 0.0);
        assert_eq!(act.derivative(-1000.0, 0.0), 0.0);
        // A large threshold does not overflow: ln(1 + e^x) ≈ x.
        let wide = Softplus::new(1.0, 1e6);
        assert_eq!(wide.forward(1000.0), 1000.0);
        assert_eq!(wide.derivative(1000.0, 1000.0), 1.0);
        check_finite_at_extremes(&act);
        check_finite_at_extremes(&wide);
    }
}
