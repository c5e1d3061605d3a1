//! Step decay.

use super::LrScheduler;
use crate::optim::check_non_negative;

/// Decays the learning rate by `gamma` every `step_size` steps, PyTorch's
/// `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)`:
/// `lr(t) = base_lr · gamma^⌊t / step_size⌋`.
///
/// NOTE: the closed form (PyTorch's `_get_closed_form_lr`); PyTorch's `step()` multiplies the
/// current rate by `gamma` instead, which can differ in the last bits of the `f64`.
///
/// ```
/// use nn_runtime::{LrScheduler, StepLR};
///
/// let schedule = StepLR::new(1.0, 2, 0.5);
/// let rates: Vec<f64> = (0..6).map(|e| schedule.lr_at(e)).collect();
/// assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLR {
    base_lr: f64,
    step_size: usize,
    gamma: f64,
}

impl StepLR {
    /// A schedule starting at `base_lr`, multiplied by `gamma` every `step_size` steps.
    ///
    /// # Panics
    /// If `step_size` is 0, or `base_lr` or `gamma` is negative or not finite.
    pub fn new(base_lr: f64, step_size: usize, gamma: f64) -> Self {
        assert!(step_size > 0, "StepLR: step_size must be positive");
        check_non_negative("StepLR", "base learning rate", base_lr);
        check_non_negative("StepLR", "gamma", gamma);
        StepLR {
            base_lr,
            step_size,
            gamma,
        }
    }
}

impl LrScheduler for StepLR {
    fn lr_at(&self, step: usize) -> f64 {
        self.base_lr * self.gamma.powf((step / self.step_size) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lr_decays_every_step_size_epochs() {
        let schedule = StepLR::new(0.1, 3, 0.1);
        for (epoch, expected) in [(0, 0.1), (2, 0.1), (3, 0.01), (5, 0.01), (6, 0.001)] {
            let lr = schedule.lr_at(epoch);
            assert!((lr - expected).abs() <= 1e-15, "epoch {epoch}: {lr}");
        }
        // gamma = 1 is constant.
        assert_eq!(StepLR::new(0.3, 1, 1.0).lr_at(1000), 0.3);
    }

    #[test]
    #[should_panic(expected = "step_size must be positive")]
    fn step_lr_rejects_a_zero_step_size() {
        let _ = StepLR::new(0.1, 0, 0.1);
    }
}
