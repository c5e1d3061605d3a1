//! Learning-rate schedules.

use super::Optimizer;

/// A learning rate as a function of the epoch, set on an optimizer before each epoch.
///
/// Schedules are closed forms, so they hold no state and any epoch can be asked for. PyTorch's
/// `scheduler.step()` after epoch `e` corresponds to `apply(&mut optimizer, e + 1)`; epoch 0
/// uses the base learning rate.
///
/// ```
/// use nn_runtime::{LrScheduler, Optimizer, StepLR, SGD};
///
/// let mut sgd = SGD::new(0.1);
/// let schedule = StepLR::new(0.1, 10, 0.5);
/// for epoch in 0..30 {
///     schedule.apply(&mut sgd, epoch);
///     // … train one epoch with `sgd` …
/// }
/// assert!((sgd.lr() - 0.025).abs() < 1e-12);
/// ```
pub trait LrScheduler {
    /// The learning rate for epoch `epoch` (counted from 0).
    fn lr_at(&self, epoch: usize) -> f64;

    /// Sets `optimizer`'s learning rate to the one for `epoch`.
    fn apply<O: Optimizer + ?Sized>(&self, optimizer: &mut O, epoch: usize) {
        optimizer.set_lr(self.lr_at(epoch));
    }
}

/// Decays the learning rate by `gamma` every `step_size` epochs, PyTorch's
/// `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)`:
/// `lr(e) = base_lr · gamma^⌊e / step_size⌋`.
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
    /// A schedule starting at `base_lr`, multiplied by `gamma` every `step_size` epochs.
    ///
    /// # Panics
    /// If `step_size` is 0, or `base_lr` or `gamma` is negative or not finite.
    pub fn new(base_lr: f64, step_size: usize, gamma: f64) -> Self {
        assert!(step_size > 0, "StepLR: step_size must be positive");
        super::check_non_negative("StepLR", "base learning rate", base_lr);
        super::check_non_negative("StepLR", "gamma", gamma);
        StepLR {
            base_lr,
            step_size,
            gamma,
        }
    }
}

impl LrScheduler for StepLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        self.base_lr * self.gamma.powf((epoch / self.step_size) as f64)
    }
}

/// Cosine annealing from `base_lr` down to `eta_min` over `t_max` epochs, PyTorch's
/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)` in its closed
/// form: `lr(e) = eta_min + (base_lr − eta_min) · (1 + cos(π·e / t_max)) / 2`.
///
/// NOTE: past `t_max` the cosine continues, so the rate climbs back towards `base_lr` over the
/// next `t_max` epochs, as PyTorch's closed form does. PyTorch's `step()` uses a recursive
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
    /// A schedule from `base_lr` at epoch 0 to `eta_min` at epoch `t_max`.
    ///
    /// # Panics
    /// If `t_max` is 0, or `base_lr` or `eta_min` is negative or not finite.
    pub fn new(base_lr: f64, t_max: usize, eta_min: f64) -> Self {
        assert!(t_max > 0, "CosineAnnealingLR: t_max must be positive");
        super::check_non_negative("CosineAnnealingLR", "base learning rate", base_lr);
        super::check_non_negative("CosineAnnealingLR", "eta_min", eta_min);
        CosineAnnealingLR {
            base_lr,
            t_max,
            eta_min,
        }
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn lr_at(&self, epoch: usize) -> f64 {
        let phase = std::f64::consts::PI * epoch as f64 / self.t_max as f64;
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, SGD};

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

    #[test]
    fn apply_sets_the_optimizer_learning_rate() {
        let mut adam = Adam::new(0.1);
        CosineAnnealingLR::new(0.1, 2, 0.0).apply(&mut adam, 1);
        assert!((adam.lr() - 0.05).abs() < 1e-15);
        let mut sgd = SGD::new(1.0);
        StepLR::new(1.0, 1, 0.5).apply(&mut sgd, 3);
        assert_eq!(sgd.lr(), 0.125);
    }
}
