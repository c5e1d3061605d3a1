//! Mean squared error.

use super::Loss;
use crate::batch::Batch;

/// Mean squared error, PyTorch's `torch.nn.MSELoss()` (`reduction='mean'`).
///
/// Loss, averaged over all `N = rows × F` elements: `ℓ = (x − y)²`.
///
/// Gradient with respect to `x` (needs the input only): `∂ℓ/∂x = 2·(x − y) / N`.
///
/// NOTE: the difference is taken in `f32`, as PyTorch does; its square is summed in `f64`.
///
/// ```
/// use nn_runtime::{Batch, Loss, MSELoss};
///
/// let output = Batch::<2>::from_rows(&[[1.0, 2.0]]);
/// let target = Batch::<2>::from_rows(&[[0.0, 4.0]]);
/// let (loss, grad) = MSELoss::new().value_and_grad(&output, &target)?;
/// assert_eq!(loss, 2.5); // (1 + 4) / 2
/// assert_eq!(grad.to_vec(), vec![1.0, -2.0]); // 2·(x − y) / 2
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MSELoss;

impl MSELoss {
    /// `torch.nn.MSELoss()`.
    pub const fn new() -> Self {
        MSELoss
    }
}

impl<const F: usize> Loss<F> for MSELoss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        let sum: f64 = input
            .iter()
            .zip(target.as_slice())
            .map(|(&x, &y)| f64::from(x - y).powi(2))
            .sum();
        (sum / input.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let scale = (2.0 / input.len() as f64) as f32;
        for ((g, &x), &y) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            *g = scale * (x - y);
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
        check_fixture(&MSELoss::new(), &float_fixture("mse"), 1e-6);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [0.5, -2.0, 3.25, 0.0, 1.0, -0.75];
        let y = batch::<3>(&[0.0, 1.5, 3.0, -1.0, 1.0, 2.0]);
        check_gradient::<_, 3>(&MSELoss::new(), &x, &y, 1e-2);
    }

    #[test]
    fn equal_inputs_give_zero() {
        let x = [1e30, -3.0, 0.0];
        let mut grad = [f32::NAN; 3];
        assert_eq!(
            MSELoss::new().loss_and_grad(&x, &batch::<3>(&x), &mut grad),
            0.0
        );
        assert_eq!(grad, [0.0; 3]);
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..40),
        ) {
            let (x, y): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&MSELoss::new(), &x, &batch::<1>(&y));
        }
    }
}
