//! CELU.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Continuously differentiable exponential linear unit, PyTorch's `torch.nn.CELU(alpha=1.0)`:
/// `y = max(0, x) + min(0, α·(e^(x/α) − 1))`.
///
/// Derivative from the input: 1 where `x > 0`, else `e^(x/α)`; that is 1 at `x = 0` for every
/// `α`, as in PyTorch (where [`ELU`](super::ELU) gives `α`). `α` must be non-zero (PyTorch
/// rejects 0). `e^(x/α) − 1` is computed with `exp_m1`. [`Default`] is `α = 1`, where CELU
/// equals ELU.
///
/// ```
/// use nn_runtime::{Activation, CELU};
/// let act = CELU::new(2.0);
/// assert_eq!(act.forward(3.0), 3.0);
/// assert!((act.forward(-2.0) + 1.264_241_1).abs() < 1e-6);
/// assert_eq!(act.derivative(0.0, 0.0), 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct CELU {
    /// Scale of the negative branch, which saturates at `−alpha` (PyTorch's `alpha`, default 1).
    pub alpha: f32,
}

impl CELU {
    /// CELU with the given `alpha` (non-zero).
    pub const fn new(alpha: f32) -> Self {
        Self { alpha }
    }
}

impl Default for CELU {
    /// PyTorch's default, `alpha = 1`.
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl Activation for CELU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        Ok(graph.node("Celu", &[x], &[Attribute::float("alpha", self.alpha)]))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            self.alpha * crate::math::exp_m1(x / self.alpha)
        }
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            crate::math::exp(x / self.alpha)
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
        check_against_fixture(&CELU::default(), "celu_1");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-6.0, -2.0, -0.5, -0.05, 0.05, 0.5, 3.0];
        check_derivative_by_finite_differences(&CELU::default(), &points);
        check_derivative_by_finite_differences(&CELU::new(0.5), &points);
        check_derivative_by_finite_differences(&CELU::new(3.0), &points);
    }

    #[test]
    fn kink_and_extremes() {
        for alpha in [0.25, 1.0, 4.0] {
            let act = CELU::new(alpha);
            assert_eq!(act.forward(0.0), 0.0);
            assert_eq!(act.derivative(0.0, 0.0), 1.0);
            assert_eq!(act.derivative(1e-30, 1e-30), 1.0);
            assert_eq!(act.forward(-1000.0), -alpha);
            assert_eq!(act.derivative(-1000.0, -alpha), 0.0);
            check_finite_at_extremes(&act);
        }
        // With α = 1 it is ELU.
        for x in [-3.0, -0.5, 0.0, 2.0] {
            assert_eq!(
                CELU::default().forward(x),
                super::super::ELU::default().forward(x)
            );
        }
    }
}
