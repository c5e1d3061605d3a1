//! Mean absolute error.

use super::Loss;
use crate::batch::Batch;

/// Mean absolute error, PyTorch's `torch.nn.L1Loss()` (`reduction='mean'`).
///
/// Loss, averaged over all `N = rows × F` elements: `ℓ = |x − y|`.
///
/// Gradient with respect to `x` (needs the input only): `∂ℓ/∂x = sign(x − y) / N`, with
/// PyTorch's `sign(0) = 0` at the kink (Rust's `f32::signum` would give 1).
///
/// ```
/// use nn_runtime::{Batch, L1Loss, Loss};
///
/// let output = Batch::<4>::from_rows(&[[1.0, 2.0, 3.0, -1.0]]);
/// let target = Batch::<4>::from_rows(&[[0.0, 4.0, 3.0, 0.0]]);
/// let (loss, grad) = L1Loss::new().value_and_grad(&output, &target)?;
/// assert_eq!(loss, 1.0); // (1 + 2 + 0 + 1) / 4
/// assert_eq!(grad.to_vec(), vec![0.25, -0.25, 0.0, -0.25]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct L1Loss;

impl L1Loss {
    /// `torch.nn.L1Loss()`.
    pub const fn new() -> Self {
        L1Loss
    }
}

/// `sign(d)` with `sign(0) = 0` (and NaN for NaN), as `torch.sign`.
pub(super) fn sign(d: f32) -> f32 {
    if d == 0.0 {
        0.0
    } else {
        d.signum()
    }
}

impl<const F: usize> Loss<F> for L1Loss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        let sum: f64 = input
            .iter()
            .zip(target.as_slice())
            .map(|(&x, &y)| f64::from((x - y).abs()))
            .sum();
        (sum / input.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let scale = (1.0 / input.len() as f64) as f32;
        for ((g, &x), &y) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            *g = sign(x - y) * scale;
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
        // Row 0 has x = y exactly: gradient 0 there.
        let fixture = float_fixture("l1");
        assert_eq!(&fixture.grad[..5], &[0.0; 5]);
        check_fixture(&L1Loss::new(), &fixture, 1e-6);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Every |x − y| ≥ 0.25, well away from the kink at 0.
        let x = [0.5, -2.0, 3.25, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.5, 2.0]);
        check_gradient::<_, 3>(&L1Loss::new(), &x, &y, 1e-2);
    }

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(sign(-1e-30), -1.0);
        assert!(sign(f32::NAN).is_nan());
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..40),
        ) {
            let (x, y): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&L1Loss::new(), &x, &batch::<1>(&y));
        }
    }
}
