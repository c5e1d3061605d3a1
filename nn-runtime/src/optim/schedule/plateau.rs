//! Reducing the rate when a metric stops improving.

use crate::optim::{check_fraction, check_non_negative, Optimizer};

/// Divides the learning rate when a metric has stopped improving, PyTorch's
/// `torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=10,
/// threshold=1e-4, threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)`.
///
/// Call [`step`](ReduceLROnPlateau::step) once per evaluation (usually once per epoch) with the
/// metric, such as the validation loss. A metric counts as an improvement only if it beats the
/// best so far by the threshold; once more than `patience` steps in a row have not improved,
/// the rate is multiplied by `factor`, down to `min_lr`, and the next `cooldown` steps count no
/// bad steps.
///
/// NOTE: as in PyTorch, a NaN metric is never an improvement (it counts as a bad step), and
/// with the relative threshold in `min` mode, `best · (1 − threshold)` lies above a negative
/// `best`, so a slightly worse negative metric still counts as an improvement.
///
/// ```
/// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
///
/// let mut sgd = SGD::new(0.1);
/// let mut plateau = ReduceLROnPlateau::new().patience(2);
/// for validation_loss in [1.0, 0.8, 0.8, 0.8, 0.8] {
///     // … train one epoch with `sgd`, then measure the validation loss …
///     plateau.step(validation_loss, &mut sgd);
/// }
/// // Three steps without improvement on 0.8 are more than the patience of 2.
/// assert_eq!(sgd.lr(), 0.1 * 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReduceLROnPlateau {
    maximize: bool,
    factor: f64,
    patience: usize,
    threshold: f64,
    absolute: bool,
    cooldown: usize,
    min_lr: f64,
    eps: f64,
    state: PlateauState,
}

/// What [`ReduceLROnPlateau`] has seen so far, to save with a checkpoint and
/// [`restore`](ReduceLROnPlateau::restore) when training resumes: PyTorch's `best`,
/// `num_bad_epochs` and `cooldown_counter`.
///
/// The settings are not part of it (the program builds the scheduler again), nor is the learning
/// rate, which the optimizer holds.
///
/// ```
/// use nn_runtime::{PlateauState, ReduceLROnPlateau, SGD};
///
/// let mut sgd = SGD::new(0.1);
/// let mut plateau = ReduceLROnPlateau::new();
/// plateau.step(0.5, &mut sgd);
/// plateau.step(0.7, &mut sgd);
/// let state = plateau.state();
/// assert_eq!(
///     state,
///     PlateauState { best: 0.5, num_bad_epochs: 1, cooldown_counter: 0 }
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateauState {
    /// The best metric so far: `+∞` before the first step in `min` mode, `−∞` in `max` mode
    /// (PyTorch's `mode_worse`).
    pub best: f64,
    /// The steps in a row without improvement, outside cooldown.
    pub num_bad_epochs: usize,
    /// The steps of cooldown left after the last reduction.
    pub cooldown_counter: usize,
}

impl ReduceLROnPlateau {
    /// A scheduler with PyTorch's defaults: reduces by 10× when a metric to minimise has not
    /// improved by 0.01% (relative) for more than 10 steps.
    ///
    /// ```
    /// use nn_runtime::ReduceLROnPlateau;
    ///
    /// assert_eq!(ReduceLROnPlateau::new().state().best, f64::INFINITY);
    /// ```
    pub fn new() -> Self {
        ReduceLROnPlateau {
            maximize: false,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            absolute: false,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            state: PlateauState {
                best: f64::INFINITY,
                num_bad_epochs: 0,
                cooldown_counter: 0,
            },
        }
    }

    /// Watches a metric to maximise, such as an accuracy (PyTorch's `mode='max'`).
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().mode_max().patience(0);
    /// assert_eq!(plateau.state().best, f64::NEG_INFINITY);
    /// plateau.step(0.9, &mut sgd);
    /// plateau.step(0.95, &mut sgd);
    /// assert_eq!(sgd.lr(), 0.1);
    /// ```
    pub fn mode_max(mut self) -> Self {
        self.maximize = true;
        self.state.best = f64::NEG_INFINITY;
        self
    }

    /// The factor the rate is multiplied by at each reduction (default 0.1).
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().factor(0.5).patience(0);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(1.0, &mut sgd);
    /// assert_eq!(sgd.lr(), 0.05);
    /// ```
    ///
    /// # Panics
    /// If `factor` is not in `[0, 1)` (PyTorch refuses a factor of 1 or more).
    pub fn factor(mut self, factor: f64) -> Self {
        check_fraction("ReduceLROnPlateau", "factor", factor);
        self.factor = factor;
        self
    }

    /// The number of steps in a row without improvement that are tolerated; one more reduces
    /// the rate (default 10).
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().patience(1);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(1.0, &mut sgd);
    /// assert_eq!(sgd.lr(), 0.1);
    /// plateau.step(1.0, &mut sgd);
    /// assert_eq!(sgd.lr(), 0.1 * 0.1);
    /// ```
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// How much better than the best a metric must be to count as an improvement: a fraction of
    /// the best (default 1e-4), or an amount with [`threshold_abs`](Self::threshold_abs).
    ///
    /// ```
    /// use nn_runtime::{ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().threshold(0.1);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(0.95, &mut sgd); // not below 1.0 · (1 − 0.1)
    /// assert_eq!(plateau.state().best, 1.0);
    /// ```
    ///
    /// # Panics
    /// If `threshold` is negative or not finite.
    pub fn threshold(mut self, threshold: f64) -> Self {
        check_non_negative("ReduceLROnPlateau", "threshold", threshold);
        self.threshold = threshold;
        self
    }

    /// Makes the threshold an amount rather than a fraction of the best (PyTorch's
    /// `threshold_mode='abs'`).
    ///
    /// ```
    /// use nn_runtime::{ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().threshold(0.1).threshold_abs();
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(0.85, &mut sgd); // below 1.0 − 0.1
    /// assert_eq!(plateau.state().best, 0.85);
    /// ```
    pub fn threshold_abs(mut self) -> Self {
        self.absolute = true;
        self
    }

    /// The number of steps after a reduction during which bad steps are not counted (default 0).
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().patience(0).cooldown(2);
    /// for _ in 0..4 {
    ///     plateau.step(1.0, &mut sgd);
    /// }
    /// // Reduced at the second step, then two steps of cooldown.
    /// assert_eq!(sgd.lr(), 0.1 * 0.1);
    /// ```
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate below which no reduction goes (default 0).
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().patience(0).min_lr(0.05);
    /// for _ in 0..4 {
    ///     plateau.step(1.0, &mut sgd);
    /// }
    /// assert_eq!(sgd.lr(), 0.05);
    /// ```
    ///
    /// # Panics
    /// If `min_lr` is negative or not finite.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        check_non_negative("ReduceLROnPlateau", "min_lr", min_lr);
        self.min_lr = min_lr;
        self
    }

    /// The smallest change of rate worth making (default 1e-8): a reduction by no more than
    /// `eps` is skipped.
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(1e-3);
    /// let mut plateau = ReduceLROnPlateau::new().patience(0).eps(1e-3);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(1.0, &mut sgd);
    /// assert_eq!(sgd.lr(), 1e-3);
    /// ```
    ///
    /// # Panics
    /// If `eps` is negative or not finite.
    pub fn eps(mut self, eps: f64) -> Self {
        check_non_negative("ReduceLROnPlateau", "eps", eps);
        self.eps = eps;
        self
    }

    /// Takes the metric of one evaluation into account and reduces `optimizer`'s learning rate
    /// if it has stopped improving, as PyTorch's `scheduler.step(metric)`.
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().patience(0);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(f64::NAN, &mut sgd); // never an improvement
    /// assert_eq!(sgd.lr(), 0.1 * 0.1);
    /// ```
    pub fn step<O: Optimizer + ?Sized>(&mut self, metric: f64, optimizer: &mut O) {
        let better = self.is_better(metric, self.state.best);
        let state = &mut self.state;
        if better {
            state.best = metric;
            state.num_bad_epochs = 0;
        } else {
            state.num_bad_epochs += 1;
        }
        if state.cooldown_counter > 0 {
            state.cooldown_counter -= 1;
            state.num_bad_epochs = 0;
        }
        if state.num_bad_epochs > self.patience {
            let old = optimizer.lr();
            // Python's `max(old * factor, min_lr)`.
            let reduced = old * self.factor;
            let new = if self.min_lr > reduced {
                self.min_lr
            } else {
                reduced
            };
            if old - new > self.eps {
                optimizer.set_lr(new);
            }
            state.cooldown_counter = self.cooldown;
            state.num_bad_epochs = 0;
        }
    }

    /// What the scheduler has seen so far, for a checkpoint.
    ///
    /// ```
    /// use nn_runtime::ReduceLROnPlateau;
    ///
    /// let state = ReduceLROnPlateau::new().mode_max().state();
    /// assert_eq!(state.best, f64::NEG_INFINITY);
    /// assert_eq!((state.num_bad_epochs, state.cooldown_counter), (0, 0));
    /// ```
    pub fn state(&self) -> PlateauState {
        self.state
    }

    /// Resumes from a [`state`](Self::state) saved earlier, as PyTorch's `load_state_dict`.
    ///
    /// ```
    /// use nn_runtime::{Optimizer, ReduceLROnPlateau, SGD};
    ///
    /// let mut sgd = SGD::new(0.1);
    /// let mut plateau = ReduceLROnPlateau::new().patience(1);
    /// plateau.step(1.0, &mut sgd);
    /// plateau.step(1.0, &mut sgd);
    /// let saved = plateau.state();
    ///
    /// let mut resumed = ReduceLROnPlateau::new().patience(1);
    /// resumed.restore(saved);
    /// resumed.step(1.0, &mut sgd);
    /// assert_eq!(sgd.lr(), 0.1 * 0.1);
    /// ```
    pub fn restore(&mut self, state: PlateauState) {
        self.state = state;
    }

    fn is_better(&self, metric: f64, best: f64) -> bool {
        // The order of operations is PyTorch's, so that the comparisons agree at the boundary.
        match (self.maximize, self.absolute) {
            (false, false) => metric < best * (1.0 - self.threshold),
            (false, true) => metric < best - self.threshold,
            (true, false) => metric > best * (self.threshold + 1.0),
            (true, true) => metric > best + self.threshold,
        }
    }
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::SGD;
    use crate::testing::load_fixture_f64;

    /// The fixture's cases (`tools/fixtures/schedules.py`, `PLATEAU`).
    fn cases() -> [(&'static str, ReduceLROnPlateau); 10] {
        let new = ReduceLROnPlateau::new;
        [
            ("default", new()),
            ("patience2_cooldown2", new().patience(2).cooldown(2)),
            ("min_lr", new().factor(0.5).patience(1).min_lr(0.02)),
            ("eps", new().factor(0.5).patience(0)),
            ("max_rel", new().mode_max().factor(0.5).patience(2)),
            ("min_abs", new().threshold(0.05).threshold_abs().patience(1)),
            (
                "max_abs",
                new()
                    .mode_max()
                    .threshold(0.01)
                    .threshold_abs()
                    .patience(1)
                    .cooldown(1),
            ),
            ("nan_first", new().patience(1).factor(0.5)),
            (
                "negative_min_rel",
                new().threshold(0.1).patience(1).factor(0.5),
            ),
            (
                "threshold0_patience0",
                new().threshold(0.0).patience(0).factor(0.5),
            ),
        ]
    }

    #[test]
    fn plateau_matches_pytorch_bit_for_bit() {
        let fixture = load_fixture_f64("schedules/schedules.safetensors");
        for (name, mut plateau) in cases() {
            let get = |key: &str| &fixture[&format!("plateau.{name}.{key}")];
            let (lrs, metrics) = (get("lr"), get("metrics"));
            let mut sgd = SGD::new(lrs[0]);
            for (i, &metric) in metrics.iter().enumerate() {
                plateau.step(metric, &mut sgd);
                let expected = PlateauState {
                    best: get("best")[i],
                    num_bad_epochs: get("num_bad_epochs")[i] as usize,
                    cooldown_counter: get("cooldown_counter")[i] as usize,
                };
                assert_eq!(sgd.lr(), lrs[i + 1], "{name}, step {}", i + 1);
                assert_eq!(plateau.state(), expected, "{name}, step {}", i + 1);
            }
        }
    }

    #[test]
    fn a_restored_plateau_goes_on_as_the_original() {
        let metrics = [1.0, 0.9, 0.95, 0.97, 0.9, 0.99, 1.0, 0.98, 0.99, 1.0];
        let fresh = || ReduceLROnPlateau::new().patience(1).cooldown(1);
        let (mut original, mut sgd) = (fresh(), SGD::new(0.1));
        let mut lrs = Vec::new();
        for &metric in &metrics {
            original.step(metric, &mut sgd);
            lrs.push(sgd.lr());
        }
        for cut in 0..metrics.len() {
            let (mut first, mut sgd) = (fresh(), SGD::new(0.1));
            for &metric in &metrics[..cut] {
                first.step(metric, &mut sgd);
            }
            let mut resumed = fresh();
            resumed.restore(first.state());
            for (&metric, &lr) in metrics[cut..].iter().zip(&lrs[cut..]) {
                resumed.step(metric, &mut sgd);
                assert_eq!(sgd.lr(), lr, "resumed after {cut} steps");
            }
            assert_eq!(resumed, original);
        }
    }

    #[test]
    #[should_panic(expected = "ReduceLROnPlateau: invalid factor: must be in [0, 1), found 1")]
    fn plateau_rejects_a_factor_of_1() {
        let _ = ReduceLROnPlateau::new().factor(1.0);
    }

    #[test]
    #[should_panic(expected = "ReduceLROnPlateau: invalid min_lr: must be finite and at least 0")]
    fn plateau_rejects_a_negative_min_lr() {
        let _ = ReduceLROnPlateau::new().min_lr(-1.0);
    }
}
