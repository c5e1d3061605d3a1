//! SELU.

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// λ, PyTorch's `scale`, 1.0507009873554804934.
const LAMBDA: f32 = 1.050_700_987_355_480_5_f64 as f32;
/// λ·α, with α = 1.6732632423543772848, PyTorch's `alpha`; the product rounded once.
const LAMBDA_ALPHA: f32 = (1.050_700_987_355_480_5_f64 * 1.673_263_242_354_377_2_f64) as f32;

/// Scaled exponential linear unit, PyTorch's `torch.nn.SELU()`:
/// `y = λ·x` if `x > 0`, else `λ·α·(eˣ − 1)`, with the fixed constants
/// λ = 1.0507009873554804934 and α = 1.6732632423543772848 (self-normalising weights).
///
/// Derivative from the input: `λ` where `x > 0`, else `λ·α·eˣ`; `x = 0` takes the negative
/// branch, so the derivative there is `λ·α ≈ 1.7581`, as in PyTorch. `eˣ − 1` is computed with
/// `exp_m1`.
///
/// ```
/// use nn_runtime::{Activation, SELU};
/// assert!((SELU.forward(1.0) - 1.050_701).abs() < 1e-6);
/// assert!((SELU.derivative(0.0, 0.0) - 1.758_099_3).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct SELU;

impl Activation for SELU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // ONNX's defaults are PyTorch's constants; written out all the same.
        let attributes = [
            Attribute::float("alpha", 1.673_263_2),
            Attribute::float("gamma", LAMBDA),
        ];
        Ok(graph.node("Selu", &[x], &attributes))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        if x > 0.0 {
            LAMBDA * x
        } else {
            LAMBDA_ALPHA * crate::math::exp_m1(x)
        }
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            LAMBDA
        } else {
            LAMBDA_ALPHA * crate::math::exp(x)
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
        check_against_fixture(&SELU, "selu");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        check_derivative_by_finite_differences(&SELU, &[-6.0, -2.0, -0.5, -0.05, 0.05, 0.5, 3.0]);
    }

    #[test]
    fn kink_and_extremes() {
        assert_eq!(SELU.forward(0.0), 0.0);
        assert_eq!(SELU.derivative(0.0, 0.0), LAMBDA_ALPHA);
        assert!((SELU.derivative(0.0, 0.0) - 1.758_099_3).abs() < 1e-6);
        assert_eq!(SELU.derivative(1e-30, 1e-30), LAMBDA);
        assert_eq!(SELU.forward(-1000.0), -LAMBDA_ALPHA);
        assert_eq!(SELU.forward(1000.0), 1000.0 * LAMBDA);
        check_finite_at_extremes(&SELU);
    }
}
