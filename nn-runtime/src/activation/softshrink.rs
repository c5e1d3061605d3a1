//! Soft shrinkage.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Soft shrinkage, PyTorch's `torch.nn.Softshrink(lambd=0.5)`: `y = x − λ` if `x > λ`,
/// `x + λ` if `x < −λ`, else 0 (`x·0`, as PyTorch: NaN stays NaN, and `−λ` gives `−0`).
///
/// Derivative from the input: 0 where `−λ ≤ x ≤ λ` (PyTorch's choice at `x = ±λ`), else 1.
/// [`Default`] is PyTorch's `λ = 0.5`.
///
/// ```
/// use nn_runtime::{Activation, Softshrink};
/// let act = Softshrink::new(0.5);
/// assert_eq!(act.forward(2.0), 1.5);
/// assert_eq!(act.forward(-0.25), 0.0);
/// assert_eq!(act.derivative(0.5, 0.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softshrink {
    /// The half-width `λ` of the interval mapped to 0 (PyTorch's `lambd`, default 0.5).
    pub lambd: f32,
}

impl Softshrink {
    /// Soft shrinkage by `lambd`.
    pub const fn new(lambd: f32) -> Self {
        Self { lambd }
    }
}

impl Default for Softshrink {
    /// PyTorch's default, `λ = 0.5`.
    fn default() -> Self {
        Self::new(0.5)
    }
}

impl Activation for Softshrink {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        let attributes = [
            Attribute::float("bias", self.lambd),
            Attribute::float("lambd", self.lambd),
        ];
        Ok(graph.node("Shrink", &[x], &attributes))
    }

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        if x > self.lambd {
            x - self.lambd
        } else if x < -self.lambd {
            x + self.lambd
        } else {
            x * 0.0
        }
    }

    #[inline]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if (-self.lambd..=self.lambd).contains(&x) {
            0.0
        } else {
            1.0
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
        check_against_fixture(&Softshrink::default(), "softshrink");
        check_against_fixture(&Softshrink::new(2.0), "softshrink_2");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-8.0, -2.1, -1.0, -0.3, 0.0, 0.4, 0.7, 1.9, 4.0];
        check_derivative_by_finite_differences(&Softshrink::default(), &points);
        check_derivative_by_finite_differences(&Softshrink::new(2.0), &points);
    }

    #[test]
    fn edges_and_extremes() {
        let act = Softshrink::default();
        assert_eq!((act.forward(0.5), act.derivative(0.5, 0.0)), (0.0, 0.0));
        assert_eq!((act.forward(-0.5), act.derivative(-0.5, 0.0)), (0.0, 0.0));
        assert_eq!(act.forward(-3.0), -2.5);
        assert!(act.forward(f32::NAN).is_nan());
        assert_eq!(act.derivative(f32::NAN, f32::NAN), 1.0);
        check_finite_at_extremes(&act);
    }
}
