//! Binary cross-entropy on logits.

use super::Loss;
use crate::batch::Batch;

/// Binary cross-entropy of `σ(x)` against targets `t ∈ [0, 1]`, taking the logits `x`, PyTorch's
/// `torch.nn.BCEWithLogitsLoss()` (no weight, no `pos_weight`, `reduction='mean'`).
///
/// Loss, averaged over all `N = rows × F` elements, in PyTorch's stable form with
/// `m = max(−x, 0)`: `ℓ = (1 − t)·x + m + ln(e^(−m) + e^(−x − m))`, which is
/// `−(t·ln σ(x) + (1 − t)·ln(1 − σ(x)))` without overflow and without the clamps of
/// [`BCELoss`](crate::BCELoss).
///
/// Gradient with respect to `x` (needs the input only): `∂ℓ/∂x = (σ(x) − t) / N`.
///
/// NOTE: use this rather than a final sigmoid and `BCELoss` when the logits can be large: the
/// loss of a logit of ±100 stays exact (100 for a wrong sign) where `BCELoss` reads a saturated
/// probability and clamps. The value is summed in `f64`.
///
/// ```
/// use nn_runtime::{BCEWithLogitsLoss, Batch, Loss};
///
/// let logits = Batch::<2>::from_rows(&[[0.0, 100.0]]);
/// let target = Batch::<2>::from_rows(&[[1.0, 0.0]]);
/// let (loss, grad) = BCEWithLogitsLoss::new().value_and_grad(&logits, &target)?;
/// assert!((loss - (std::f32::consts::LN_2 + 100.0) / 2.0).abs() < 1e-5);
/// assert_eq!(grad.to_vec(), vec![-0.25, 0.5]); // (σ(x) − t) / 2
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct BCEWithLogitsLoss;

impl BCEWithLogitsLoss {
    /// `torch.nn.BCEWithLogitsLoss()`.
    pub const fn new() -> Self {
        BCEWithLogitsLoss
    }
}

impl<const F: usize> Loss<F> for BCEWithLogitsLoss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        let sum: f64 = input
            .iter()
            .zip(target.as_slice())
            .map(|(&x, &t)| {
                let (x, t) = (f64::from(x), f64::from(t));
                let m = (-x).max(0.0);
                (1.0 - t) * x + m + ((-m).exp() + (-x - m).exp()).ln()
            })
            .sum();
        (sum / input.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let n = input.len() as f32;
        for ((g, &x), &t) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            let sigmoid = 1.0 / (1.0 + (-x).exp());
            *g = (sigmoid - t) / n;
        }
        Loss::<F>::loss(self, input, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::test_support::{
        assert_non_negative, batch, check_fixture, check_gradient, float_fixture,
    };
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        check_fixture(
            &BCEWithLogitsLoss::new(),
            &float_fixture("bce_with_logits"),
            1e-6,
        );
    }

    #[test]
    fn matches_pytorch_at_large_logits() {
        check_fixture(
            &BCEWithLogitsLoss::new(),
            &float_fixture("bce_with_logits_edge"),
            1e-6,
        );
    }

    #[test]
    fn large_logits_stay_exact() {
        let x = [100.0, -100.0, 100.0, -100.0];
        let t = batch::<4>(&[0.0, 1.0, 1.0, 0.0]);
        let mut grad = [0.0; 4];
        let loss = BCEWithLogitsLoss::new().loss_and_grad(&x, &t, &mut grad);
        assert_eq!(loss, 50.0);
        assert_eq!(grad, [0.25, -0.25, 0.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [-4.0, -1.3, -0.2, 0.0, 0.6, 2.5, 7.0, -9.0];
        let t = batch::<4>(&[1.0, 0.0, 0.5, 1.0, 0.0, 0.3, 0.0, 1.0]);
        check_gradient::<_, 4>(&BCEWithLogitsLoss::new(), &x, &t, 1e-2);
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((-200.0f32..200.0, 0.0f32..=1.0), 1..40),
        ) {
            let (x, t): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&BCEWithLogitsLoss::new(), &x, &batch::<1>(&t));
        }
    }
}
