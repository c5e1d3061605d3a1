//! Cosine annealing.

use super::LrScheduler;
use crate::optim::check_non_negative;

/// Cosine annealing from `base_lr` down to `eta_min` over `t_max` steps, PyTorch's
/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)` in its closed
/// form: `lr(t) = eta_min + (base_lr − eta_min) · (1 + cos(π·t / t_max)) / 2`.
///
/// NOTE: past `t_max` the cosine continues, so the rate climbs back towards `base_lr` over the
/// next `t_max` steps, as PyTorch's closed form does. PyTorch's `step()` uses a recursive
/// form that agrees with this one up to rounding.
///
/// ```
/// use nn_runtime::{CosineAnnealingLR, LrScheduler};
///
/// let schedule = CosineAnnealingLR::new(0.1, 10, 0.0);
/// assert_eq!(schedule.lr_at(0), 0.1);
/// assert!((schedule.lr_at(5) - 0.05).abs() < 1e-12);
/// assert!(schedule.lr_at(10).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealingLR {
    base_lr: f64,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLR {
    /// A schedule from `base_lr` at step 0 to `eta_min` at step `t_max`.
    ///
    /// # Panics
    /// If `t_max` is 0, or `base_lr` or `eta_min` is negative or not finite.
    pub fn new(base_lr: f64, t_max: usize, eta_min: f64) -> Self {
        assert!(t_max > 0, "CosineAnnealingLR: t_max must be positive");
        check_non_negative("CosineAnnealingLR", "base learning rate", base_lr);
        check_non_negative("CosineAnnealingLR", "eta_min", eta_min);
        CosineAnnealingLR {
            base_lr,
            t_max,
            eta_min,
        }
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn lr_at(&self, step: usize) -> f64 {
        let phase = std::f64::consts::PI * step as f64 / self.t_max as f64;
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_annealing_follows_the_closed_form() {
        let schedule = CosineAnnealingLR::new(0.1, 4, 0.01);
        let expected = [
            0.1,
            0.086_819_805_153_394_64,
            0.055,
            0.023_180_194_846_605_36,
            0.01,
        ];
        for (epoch, &lr) in expected.iter().enumerate() {
            assert!((schedule.lr_at(epoch) - lr).abs() < 1e-15, "epoch {epoch}");
        }
        // Monotonic down to t_max, then back up.
        assert!(schedule.lr_at(5) > schedule.lr_at(4));
        assert!((schedule.lr_at(8) - 0.1).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "t_max must be positive")]
    fn cosine_annealing_rejects_a_zero_period() {
        let _ = CosineAnnealingLR::new(0.1, 0, 0.0);
    }
}
