//! Huber loss.

use super::Loss;
use crate::batch::Batch;

/// Huber loss with threshold `δ`, PyTorch's `torch.nn.HuberLoss(delta=1.0)`
/// (`reduction='mean'`): squared near zero, linear in the tails.
///
/// Loss, averaged over all `N = rows × F` elements, with `d = x − y`:
/// `ℓ = ½·d²` if `|d| < δ`, else `δ·(|d| − ½·δ)`.
///
/// Gradient with respect to `x` (needs the input only): `∂ℓ/∂x = d / N` if `|d| < δ`, else
/// `δ·sign(d) / N`; both branches give `±δ/N` at `|d| = δ`, so it is continuous.
///
/// NOTE: `HuberLoss` is `δ` times [`SmoothL1Loss`](crate::SmoothL1Loss) with `β = δ`, so with
/// the default `δ = 1` they coincide. `δ` is kept as `f64` (a Python float) and used as `f32`.
///
/// ```
/// use nn_runtime::{Batch, HuberLoss, Loss};
///
/// let output = Batch::<2>::from_rows(&[[0.5, 3.0]]);
/// let target = Batch::<2>::from_rows(&[[0.0, 0.0]]);
/// let (loss, grad) = HuberLoss::new().delta(2.0).value_and_grad(&output, &target)?;
/// assert_eq!(loss, (0.125 + 2.0 * (3.0 - 1.0)) / 2.0);
/// assert_eq!(grad.to_vec(), vec![0.25, 1.0]); // d / 2, then δ / 2
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuberLoss {
    delta: f64,
}

impl HuberLoss {
    /// `torch.nn.HuberLoss()`: `δ = 1`.
    pub const fn new() -> Self {
        HuberLoss { delta: 1.0 }
    }

    /// Sets the threshold `δ` between the quadratic and the linear part.
    ///
    /// # Panics
    /// If `delta` is not positive, as PyTorch raises an error, or not finite.
    pub fn delta(mut self, delta: f64) -> Self {
        assert!(
            delta.is_finite() && delta > 0.0,
            "HuberLoss: invalid delta: must be finite and above 0, found {delta}"
        );
        self.delta = delta;
        self
    }

    /// The threshold `δ`.
    pub fn get_delta(&self) -> f64 {
        self.delta
    }
}

impl Default for HuberLoss {
    fn default() -> Self {
        Self::new()
    }
}

impl<const F: usize> Loss<F> for HuberLoss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        let delta = self.delta as f32;
        let wide = f64::from(delta);
        let sum: f64 = input
            .iter()
            .zip(target.as_slice())
            .map(|(&x, &y)| {
                let z = (x - y).abs();
                let z_wide = f64::from(z);
                if z < delta {
                    0.5 * z_wide * z_wide
                } else {
                    wide * (z_wide - 0.5 * wide)
                }
            })
            .sum();
        (sum / input.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let delta = self.delta as f32;
        let scale = (1.0 / input.len() as f64) as f32;
        for ((g, &x), &y) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            let d = x - y;
            *g = scale * d.clamp(-delta, delta);
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
        // Row 0 has d = 0, row 1 has |d| = δ exactly.
        check_fixture(&HuberLoss::new(), &float_fixture("huber"), 1e-6);
    }

    #[test]
    fn defaults_and_builder() {
        assert_eq!(HuberLoss::default(), HuberLoss::new());
        assert_eq!(HuberLoss::new().get_delta(), 1.0);
        assert_eq!(HuberLoss::new().delta(0.5).get_delta(), 0.5);
    }

    #[test]
    #[should_panic(expected = "invalid delta: must be finite and above 0")]
    fn rejects_a_zero_delta() {
        let _ = HuberLoss::new().delta(0.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // |d| ∈ {0.5, 3.5, 0.25, 1, 0.5, 2.75}: all more than h from δ = 0.3 and δ = 5. For
        // δ = 1 the d = 1 entry sits on the seam, where the slope is continuous (only the
        // curvature jumps), so a central difference is off by O(h) only.
        let x = [0.5, -2.0, 3.25, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.5, 2.0]);
        check_gradient::<_, 3>(&HuberLoss::new(), &x, &y, 1e-2);
        check_gradient::<_, 3>(&HuberLoss::new().delta(0.3), &x, &y, 1e-2);
        check_gradient::<_, 3>(&HuberLoss::new().delta(5.0), &x, &y, 1e-2);
    }

    #[test]
    fn is_delta_times_smooth_l1() {
        use crate::loss::SmoothL1Loss;
        let x = [0.5, -2.0, 3.25, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.5, 2.0]);
        let huber = HuberLoss::new().delta(2.0).value(&batch(&x), &y).unwrap();
        let smooth = SmoothL1Loss::new().beta(2.0).value(&batch(&x), &y).unwrap();
        assert!((huber - 2.0 * smooth).abs() <= 1e-6 * huber);
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..40),
            delta in 1e-3f64..10.0,
        ) {
            let (x, y): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&HuberLoss::new().delta(delta), &x, &batch::<1>(&y));
        }
    }
}
