//! Softmax, row by row.

use super::{Builtin, RowActivation};
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Softmax over each row, PyTorch's `torch.nn.Softmax(dim=1)` on a `[batch, features]` batch:
/// `yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m)`, `m = maxⱼ xⱼ`.
///
/// NOTE: shifted by the row maximum, so no exponential overflows (rows of ±1000 are fine) and
/// the largest term is exactly 1, so the sum is at least 1.
///
/// Backward from the output only (the input is not read): the vector-Jacobian product
/// `∂L/∂x = y ⊙ (g − Σⱼ gⱼ·yⱼ)` for `g = ∂L/∂y`. Not elementwise, so it implements
/// [`RowActivation`] and not [`Activation`](super::Activation); a following loss may use the
/// combined gradient (the runtime knows it as a softmax).
///
/// ```
/// use nn_runtime::{RowActivation, Softmax};
/// let mut y = [0.0; 3];
/// Softmax.forward_row(&[1000.0, 1000.0, -1000.0], &mut y);
/// assert_eq!(y, [0.5, 0.5, 0.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Softmax;

impl RowActivation for Softmax {
    const BUILTIN: Builtin = Builtin::Softmax;

    fn display_name(&self) -> &'static str {
        "Softmax"
    }

    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        // Over the features, the last axis, as `dim=1` of a `[batch, features]` batch.
        Ok(graph.node("Softmax", &[x], &[Attribute::int("axis", -1)]))
    }

    fn forward_row(&self, input: &[f32], output: &mut [f32]) {
        let max = input.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (y, &x) in output.iter_mut().zip(input) {
            *y = (x - max).exp();
            sum += *y;
        }
        for y in output.iter_mut() {
            *y /= sum;
        }
    }

    fn backward_row(&self, _input: &[f32], output: &[f32], grad: &mut [f32]) {
        let dot: f32 = grad.iter().zip(output).map(|(&g, &y)| g * y).sum();
        for (g, &y) in grad.iter_mut().zip(output) {
            *g = y * (*g - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_finite_at_extremes, check_row_backward_by_finite_differences,
    };
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&Softmax, "softmax_dim1");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let x = [0.3, -1.2, 2.0, 0.0, -0.7, 1.1, 5.0];
        let g = [1.0, -0.5, 0.25, 2.0, -1.5, 0.0, 0.7];
        check_row_backward_by_finite_differences(&Softmax, &x, &g);
        let shifted = x.map(|v| v + 100.0);
        check_row_backward_by_finite_differences(&Softmax, &shifted, &g);
    }

    #[test]
    fn stable_at_extremes() {
        let mut y = [0.0; 4];
        Softmax.forward_row(&[100.0, 100.0, 100.0, 100.0], &mut y);
        assert_eq!(y, [0.25; 4]);
        Softmax.forward_row(&[-1000.0, -1000.0, -1000.0, -1000.0], &mut y);
        assert_eq!(y, [0.25; 4]);
        Softmax.forward_row(&[-1000.0, 1000.0, 0.0, 999.0], &mut y);
        assert_eq!(y[0], 0.0);
        assert_eq!(y[2], 0.0);
        assert!((y[1] - 0.731_058_6).abs() < 1e-6 && (y[3] - 0.268_941_43).abs() < 1e-6);
        // A one-element row is 1, with gradient 0.
        let mut one = [0.0];
        Softmax.forward_row(&[-123.0], &mut one);
        assert_eq!(one, [1.0]);
        let mut grad = [5.0];
        Softmax.backward_row(&[-123.0], &one, &mut grad);
        assert_eq!(grad, [0.0]);
        check_finite_at_extremes(&Softmax);
    }

    #[test]
    fn names_and_fusion() {
        assert_eq!(Softmax.display_name(), "Softmax");
        assert_eq!(<Softmax as RowActivation>::BUILTIN, Builtin::Softmax);
    }

    proptest! {
        #[test]
        fn rows_sum_to_one(row in proptest::collection::vec(-100.0f32..100.0, 1..64)) {
            let mut y = vec![0.0; row.len()];
            Softmax.forward_row(&row, &mut y);
            let sum: f32 = y.iter().sum();
            prop_assert!((sum - 1.0).abs() <= 1e-5, "sum {} for {:?}", sum, row);
            prop_assert!(y.iter().all(|&v| (0.0..=1.0).contains(&v)));
        }
    }
}
