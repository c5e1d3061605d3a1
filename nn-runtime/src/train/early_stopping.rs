//! Early stopping: the end of a run once the monitored loss stops improving.

use crate::io::NamedTensors;

/// Stops training once the validation loss (the training loss, without
/// [`Trainer::validate`](crate::Trainer::validate)) has not improved for `patience` epochs, and
/// gives the model back the weights of its best epoch, as Keras'
/// `EarlyStopping(monitor="val_loss", patience, min_delta, restore_best_weights=True)`.
///
/// An epoch improves when its loss is below the best so far by more than `min_delta`; a NaN
/// loss never improves.
///
/// ```
/// use nn_runtime::{EarlyStopping, Trainer};
///
/// let trainer = Trainer::new(500).early_stopping(EarlyStopping::new(10).min_delta(1e-4));
/// # let _ = trainer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    patience: usize,
    min_delta: f32,
    restore_best_weights: bool,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without improvement (`0`: at the first), restoring the
    /// best weights.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            restore_best_weights: true,
        }
    }

    /// The least decrease of the loss that counts as an improvement (0 by default).
    ///
    /// # Panics
    /// If `min_delta` is negative or not finite.
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        crate::optim::check_non_negative("EarlyStopping", "min_delta", f64::from(min_delta));
        self.min_delta = min_delta;
        self
    }

    /// Whether the model is given back its best epoch's weights when training stops.
    pub(super) fn restores_best_weights(&self) -> bool {
        self.restore_best_weights
    }

    /// Leaves the model with the weights of the last epoch when it stops, instead of the best.
    pub fn keep_last_weights(mut self) -> Self {
        self.restore_best_weights = false;
        self
    }
}

/// Early stopping's state during a run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Watch {
    pub(super) settings: EarlyStopping,
    /// The lowest loss so far (infinite before the first epoch).
    pub(super) best: f32,
    /// The epoch of `best`; 0 before the first.
    pub(super) best_epoch: usize,
    /// Epochs since the last improvement.
    pub(super) wait: usize,
    /// Every tensor of the model after `best_epoch`, in visiting order, when they are restored.
    pub(super) best_weights: Vec<f32>,
}

impl Watch {
    pub(super) fn new(settings: EarlyStopping) -> Self {
        Watch {
            settings,
            best: f32::INFINITY,
            best_epoch: 0,
            wait: 0,
            best_weights: Vec::new(),
        }
    }

    /// Takes note of `epoch`'s `loss`; `true` when training should stop.
    pub(super) fn stops_after<M: NamedTensors + ?Sized>(
        &mut self,
        epoch: usize,
        loss: f32,
        model: &M,
    ) -> bool {
        if loss + self.settings.min_delta < self.best {
            self.best = loss;
            self.best_epoch = epoch;
            self.wait = 0;
            if self.settings.restore_best_weights {
                self.best_weights.clear();
                model.visit_tensors(&mut |_, _, values| self.best_weights.extend(values));
            }
            return false;
        }
        self.wait += 1;
        self.wait >= self.settings.patience
    }

    /// Gives `model` the weights of the best epoch; returns that epoch, or `None` when the
    /// weights are kept as they are.
    pub(super) fn restore<M: NamedTensors + ?Sized>(&self, model: &mut M) -> Option<usize> {
        if !self.settings.restore_best_weights || self.best_epoch == 0 {
            return None;
        }
        let mut saved = self.best_weights.as_slice();
        model.visit_tensors_mut(&mut |_, _, values| {
            let (these, rest) = saved.split_at(values.len());
            values.copy_from_slice(these);
            saved = rest;
        });
        Some(self.best_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{TensorVisitor, TensorVisitorMut};

    struct Weights(Vec<f32>);

    impl NamedTensors for Weights {
        fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
            visitor("w", &[self.0.len()], &self.0);
        }
        fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
            visitor("w", &[self.0.len()], &mut self.0);
        }
    }

    /// The epoch after which `watch` stops, for these losses; the weights are the epoch.
    fn stopping_epoch(watch: &mut Watch, losses: &[f32]) -> Option<usize> {
        losses.iter().enumerate().find_map(|(i, &loss)| {
            let epoch = i + 1;
            watch
                .stops_after(epoch, loss, &Weights(vec![epoch as f32]))
                .then_some(epoch)
        })
    }

    #[test]
    fn it_stops_after_patience_epochs_without_improvement_and_restores_the_best() {
        let mut watch = Watch::new(EarlyStopping::new(2));
        let losses = [1.0, 0.5, 0.6, 0.4, 0.45, 0.41, 0.42, 0.1];
        assert_eq!(stopping_epoch(&mut watch, &losses), Some(6));
        let mut model = Weights(vec![6.0]);
        assert_eq!(watch.restore(&mut model), Some(4));
        assert_eq!(model.0, [4.0]);
    }

    #[test]
    fn improvements_smaller_than_min_delta_and_nan_do_not_count() {
        let mut watch = Watch::new(EarlyStopping::new(1).min_delta(0.1));
        assert_eq!(stopping_epoch(&mut watch, &[1.0, 0.95, 0.5]), Some(2));
        let mut watch = Watch::new(EarlyStopping::new(1));
        assert_eq!(stopping_epoch(&mut watch, &[1.0, f32::NAN, 0.5]), Some(2));
        assert_eq!(watch.best_epoch, 1);
    }

    #[test]
    fn patience_zero_stops_at_the_first_epoch_without_improvement() {
        let mut watch = Watch::new(EarlyStopping::new(0).keep_last_weights());
        assert_eq!(stopping_epoch(&mut watch, &[1.0, 0.9, 0.9]), Some(3));
        let mut model = Weights(vec![3.0]);
        assert_eq!(watch.restore(&mut model), None);
        assert_eq!(model.0, [3.0]);
    }
}
