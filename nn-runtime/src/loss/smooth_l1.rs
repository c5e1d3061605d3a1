//! Smooth L1 loss.

use super::l1::sign;
use super::Loss;
use crate::batch::Batch;

/// Smooth L1 loss with threshold `β`, PyTorch's `torch.nn.SmoothL1Loss(beta=1.0)`
/// (`reduction='mean'`): an absolute error whose kink at zero is rounded off.
///
/// Loss, averaged over all `N = rows × F` elements, with `d = x − y`:
/// `ℓ = ½·d²/β` if `|d| < β`, else `|d| − ½·β`.
///
/// Gradient with respect to `x` (needs the input only): `∂ℓ/∂x = d/β / N` if `|d| < β`,
/// else `sign(d) / N`; continuous at `|d| = β`.
///
/// NOTE: with `β = 0` it is [`L1Loss`](crate::L1Loss), with `sign(0) = 0`, as PyTorch switches
/// to `l1_loss` there (the quadratic branch would divide by zero). `HuberLoss` with `δ = β` is
/// `β` times this loss. `β` is kept as `f64` (a Python float) and used as `f32`.
///
/// ```
/// use nn_runtime::{Batch, Loss, SmoothL1Loss};
///
/// let output = Batch::<2>::from_rows(&[[0.5, 3.0]]);
/// let target = Batch::<2>::from_rows(&[[0.0, 0.0]]);
/// let (loss, grad) = SmoothL1Loss::new().value_and_grad(&output, &target)?;
/// assert_eq!(loss, (0.125 + 2.5) / 2.0);
/// assert_eq!(grad.to_vec(), vec![0.25, 0.5]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothL1Loss {
    beta: f64,
}

impl SmoothL1Loss {
    /// `torch.nn.SmoothL1Loss()`: `β = 1`.
    pub const fn new() -> Self {
        SmoothL1Loss { beta: 1.0 }
    }

    /// Sets the threshold `β` below which the loss is quadratic.
    ///
    /// # Panics
    /// If `beta` is negative (or NaN), as PyTorch raises an error, or infinite.
    pub fn beta(mut self, beta: f64) -> Self {
        crate::optim::check_non_negative("SmoothL1Loss", "beta", beta);
        self.beta = beta;
        self
    }

    /// The threshold `β`.
    pub fn get_beta(&self) -> f64 {
        self.beta
    }
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        Self::new()
    }
}

impl<const F: usize> Loss<F> for SmoothL1Loss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        let beta = self.beta as f32;
        let wide = f64::from(beta);
        let sum: f64 = input
            .iter()
            .zip(target.as_slice())
            .map(|(&x, &y)| {
                let z = (x - y).abs();
                let z_wide = f64::from(z);
                if z < beta {
                    0.5 * z_wide * z_wide / wide
                } else {
                    z_wide - 0.5 * wide
                }
            })
            .sum();
        (sum / input.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let beta = self.beta as f32;
        let scale = (1.0 / input.len() as f64) as f32;
        for ((g, &x), &y) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            let d = x - y;
            let slope = if d.abs() < beta { d / beta } else { sign(d) };
            *g = scale * slope;
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
    use crate::loss::L1Loss;
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        // Same data as huber: d = 0 on row 0, |d| = β exactly on row 1.
        check_fixture(&SmoothL1Loss::new(), &float_fixture("smooth_l1"), 1e-6);
    }

    #[test]
    fn defaults_and_builder() {
        assert_eq!(SmoothL1Loss::default(), SmoothL1Loss::new());
        assert_eq!(SmoothL1Loss::new().get_beta(), 1.0);
        assert_eq!(SmoothL1Loss::new().beta(0.0).get_beta(), 0.0);
    }

    #[test]
    fn beta_zero_is_l1() {
        let x = [0.5, -2.0, 3.0, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.5, 2.0]);
        let mut smooth = [0.0; 6];
        let mut l1 = [0.0; 6];
        let a = SmoothL1Loss::new()
            .beta(0.0)
            .loss_and_grad(&x, &y, &mut smooth);
        let b = L1Loss::new().loss_and_grad(&x, &y, &mut l1);
        assert_eq!((a, smooth), (b, l1));
        assert_eq!(smooth[2], 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // For β = 1 two entries sit on the seam |d| = β, where the slope is continuous.
        let x = [0.5, -2.0, 3.25, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.5, 2.0]);
        check_gradient::<_, 3>(&SmoothL1Loss::new(), &x, &y, 1e-2);
        check_gradient::<_, 3>(&SmoothL1Loss::new().beta(0.3), &x, &y, 1e-2);
        check_gradient::<_, 3>(&SmoothL1Loss::new().beta(5.0), &x, &y, 1e-2);
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..40),
            beta in 0.0f64..10.0,
        ) {
            let (x, y): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&SmoothL1Loss::new().beta(beta), &x, &batch::<1>(&y));
        }
    }
}
