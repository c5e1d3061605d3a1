//! Learning-rate schedules.
//!
//! [`StepLR`], [`CosineAnnealingLR`] and [`OneCycleLR`] are closed forms of the step
//! ([`LrScheduler`]); [`ReduceLROnPlateau`] follows a measured metric, so it keeps state.

mod cosine;
mod one_cycle;
mod plateau;
mod step;

pub use cosine::CosineAnnealingLR;
pub use one_cycle::OneCycleLR;
pub use plateau::{PlateauState, ReduceLROnPlateau};
pub use step::StepLR;

use super::Optimizer;

/// A learning rate as a function of the step of the schedule, set on an optimizer before each
/// step.
///
/// A step of the schedule is an epoch or a mini-batch, as the trainer drives it: [`StepLR`] and
/// [`CosineAnnealingLR`] are usually stepped once per epoch, [`OneCycleLR`] once per mini-batch.
/// Schedules are closed forms, so they hold no state and any step can be asked for. PyTorch's
/// `scheduler.step()` after step `t` corresponds to `apply(&mut optimizer, t + 1)`; step 0 uses
/// the schedule's first rate.
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
    /// The learning rate for step `step` of the schedule (an epoch or a mini-batch, as the
    /// trainer drives it), counted from 0.
    fn lr_at(&self, step: usize) -> f64;

    /// Sets `optimizer`'s learning rate to the one for step `step` of the schedule.
    fn apply<O: Optimizer + ?Sized>(&self, optimizer: &mut O, step: usize) {
        optimizer.set_lr(self.lr_at(step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, SGD};

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
