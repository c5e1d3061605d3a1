//! ELU.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Exponential linear unit, PyTorch's `torch.nn.ELU(alpha=1.0)`:
/// `y = x` if `x > 0`, else `α·(eˣ − 1)`.
///
/// Derivative from the input: 1 where `x > 0`, else `α·eˣ`; `x = 0` takes the negative branch,
/// so the derivative there is `α`, as in PyTorch. `eˣ − 1` is computed with `exp_m1`, accurate
/// for small `|x|`. [`Default`] is `α = 1`.
///
/// ```
/// use nn_runtime::{Activation, ELU};
/// let act = ELU::default();
/// assert_eq!(act.forward(2.0), 2.0);
/// assert!((act.forward(-1.0) + 0.632_120_56).abs() < 1e-7);
/// assert_eq!(ELU::new(0.5).derivative(0.0, 0.0), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct ELU {
    /// The saturation value for large negative inputs is `−alpha` (PyTorch's `alpha`,
    /// default 1).
    pub alpha: f32,
}

impl ELU {
    /// ELU with the given `alpha`.
    pub const fn new(alpha: f32) -> Self {
        Self { alpha }
    }
}

impl Default for ELU {
    /// PyTorch's default, `alpha = 1`.
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl Activation for ELU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Elu", &[x], &[Attribute::float("alpha", self.alpha)]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            self.alpha * crate::math::exp_m1(x)
        }
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            self.alpha * crate::math::exp(x)
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
        check_against_fixture(&ELU::default(), "elu_1");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-6.0, -2.0, -0.5, -0.05, 0.05, 0.5, 3.0];
        check_derivative_by_finite_differences(&ELU::default(), &points);
        check_derivative_by_finite_differences(&ELU::new(0.3), &points);
        check_derivative_by_finite_differences(&ELU::new(2.5), &points);
    }

    #[test]
    fn kink_and_extremes() {
        let act = ELU::new(0.7);
        assert_eq!(act.forward(0.0), 0.0);
        assert_eq!(act.derivative(0.0, 0.0), 0.7);
        assert_eq!(act.derivative(1e-30, 1e-30), 1.0);
        assert_eq!(act.forward(-1000.0), -0.7);
        assert_eq!(act.derivative(-1000.0, -0.7), 0.0);
        // exp_m1 keeps tiny inputs: α·x, not 0.
        assert!((act.forward(-1e-8) / -0.7e-8 - 1.0).abs() < 1e-6);
        check_finite_at_extremes(&act);
    }
}
