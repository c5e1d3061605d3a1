//! The 1cycle policy.

use std::f64::consts::PI;

use super::LrScheduler;
use crate::optim::check_non_negative;

/// The 1cycle policy, PyTorch's `torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr,
/// total_steps, pct_start=0.3, anneal_strategy='cos', div_factor=25.0, final_div_factor=1e4,
/// three_phase=False, cycle_momentum=False)`.
///
/// The rate rises from `max_lr / div_factor` to `max_lr` over the first `pct_start` of the
/// steps, then falls to `max_lr / div_factor / final_div_factor` at step `total_steps − 1`.
/// With [`three_phase`](OneCycleLR::three_phase) it first comes back down to
/// `max_lr / div_factor`, as it went up, and falls to the final rate in a third phase. Step it
/// once per mini-batch: `lr_at(t)` equals, bit for bit, PyTorch's rate after `t` calls of
/// `scheduler.step()`, for every `t < total_steps`. So the first rate is `max_lr / div_factor`
/// only up to rounding: PyTorch's cosine formula turns `0.1 / 25` into 0.0040000000000000036.
///
/// NOTE: from step `total_steps` on, the rate stays at that of step `total_steps − 1`, the end
/// of the cycle. PyTorch raises past `total_steps`, and at `total_steps` extrapolates the last
/// phase beyond its end: a little above the final rate when annealing by cosine, below zero
/// (which no optimizer here accepts) when annealing linearly.
///
/// Momentum is not cycled, as in PyTorch with `cycle_momentum=False` (its default cycles SGD's
/// momentum or Adam's β₁ against the rate).
///
/// ```
/// use nn_runtime::{LrScheduler, OneCycleLR, Optimizer, SGD};
///
/// let schedule = OneCycleLR::new(0.1, 100);
/// let mut sgd = SGD::new(0.1);
/// for batch in 0..100 {
///     schedule.apply(&mut sgd, batch);
///     // … train on one mini-batch with `sgd` …
/// }
/// assert!((schedule.lr_at(0) - 0.1 / 25.0).abs() < 1e-17);
/// assert_eq!(schedule.lr_at(29), 0.1); // the peak, 30% of the way
/// assert_eq!(sgd.lr(), 0.1 / 25.0 / 1e4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCycleLR {
    max_lr: f64,
    total_steps: usize,
    pct_start: f64,
    linear: bool,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: bool,
}

impl OneCycleLR {
    /// A cycle of `total_steps` steps peaking at `max_lr`, with PyTorch's defaults for the rest.
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(0.01, 1000);
    /// assert_eq!(schedule.lr_at(999), 0.01 / 25.0 / 1e4);
    /// ```
    ///
    /// # Panics
    /// If `total_steps` is 0, or `max_lr` is negative or not finite.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        assert!(total_steps > 0, "OneCycleLR: total_steps must be positive");
        check_non_negative("OneCycleLR", "max_lr", max_lr);
        OneCycleLR {
            max_lr,
            total_steps,
            pct_start: 0.3,
            linear: false,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }

    /// The fraction of the steps spent raising the rate (PyTorch's `pct_start`, default 0.3).
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(0.1, 10).pct_start(0.5);
    /// assert_eq!(schedule.lr_at(4), 0.1);
    /// ```
    ///
    /// # Panics
    /// If `pct_start` is not in `[0, 1]`, or if `pct_start · total_steps` is exactly 1: the
    /// warm-up would end at step 0, where PyTorch divides by zero.
    pub fn pct_start(mut self, pct_start: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&pct_start),
            "OneCycleLR: invalid pct_start: must be in [0, 1], found {pct_start}"
        );
        assert!(
            pct_start * self.total_steps as f64 != 1.0,
            "OneCycleLR: pct_start {pct_start} of {} steps is one step: the warm-up has no \
             length",
            self.total_steps
        );
        self.pct_start = pct_start;
        self
    }

    /// Anneals linearly instead of by cosine (PyTorch's `anneal_strategy='linear'`).
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(1.0, 10).pct_start(0.5).div_factor(2.0).anneal_linear();
    /// assert_eq!(schedule.lr_at(0), 0.5);
    /// assert_eq!(schedule.lr_at(1), 0.625); // a quarter of the way up to 1.0
    /// ```
    pub fn anneal_linear(mut self) -> Self {
        self.linear = true;
        self
    }

    /// Sets the starting rate to `max_lr / div_factor` (default 25).
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(0.1, 100).div_factor(10.0);
    /// assert!((schedule.lr_at(0) - 0.01).abs() < 1e-17);
    /// assert_eq!(schedule.lr_at(99), 0.01 / 1e4);
    /// ```
    ///
    /// # Panics
    /// If `div_factor` is not finite and above 0.
    pub fn div_factor(mut self, div_factor: f64) -> Self {
        check_positive("div_factor", div_factor);
        self.div_factor = div_factor;
        self
    }

    /// Sets the final rate to `max_lr / div_factor / final_div_factor` (default 10⁴).
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(0.1, 100).final_div_factor(100.0);
    /// assert_eq!(schedule.lr_at(99), 0.1 / 25.0 / 100.0);
    /// ```
    ///
    /// # Panics
    /// If `final_div_factor` is not finite and above 0.
    pub fn final_div_factor(mut self, final_div_factor: f64) -> Self {
        check_positive("final_div_factor", final_div_factor);
        self.final_div_factor = final_div_factor;
        self
    }

    /// With `true`, the rate comes back down to the starting rate as it went up before falling
    /// to the final rate, as in the original paper (PyTorch's `three_phase`, default `false`).
    ///
    /// ```
    /// use nn_runtime::{LrScheduler, OneCycleLR};
    ///
    /// let schedule = OneCycleLR::new(0.1, 10).pct_start(0.3).three_phase(true);
    /// assert_eq!(schedule.lr_at(2), 0.1);
    /// assert_eq!(schedule.lr_at(4), 0.1 / 25.0);
    /// ```
    pub fn three_phase(mut self, three_phase: bool) -> Self {
        self.three_phase = three_phase;
        self
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.linear {
            (end - start) * pct + start
        } else {
            let cos_out = (PI * pct).cos() + 1.0;
            end + (start - end) / 2.0 * cos_out
        }
    }
}

impl LrScheduler for OneCycleLR {
    fn lr_at(&self, step: usize) -> f64 {
        let step = step.min(self.total_steps - 1) as f64;
        let total = self.total_steps as f64;
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        // Each phase's last step and its first and last rates, from PyTorch's
        // `_schedule_phases`: the steps are fractional (`0.3 · 100 − 1` is 29.000000000000004,
        // so step 29 stops a hair short of `max_lr`), and this arithmetic is what keeps every
        // rate identical to PyTorch's.
        let warm_up_end = self.pct_start * total - 1.0;
        let phases: &[(f64, f64, f64)] = if self.three_phase {
            &[
                (warm_up_end, initial, self.max_lr),
                (2.0 * self.pct_start * total - 2.0, self.max_lr, initial),
                (total - 1.0, initial, min),
            ]
        } else {
            &[
                (warm_up_end, initial, self.max_lr),
                (total - 1.0, self.max_lr, min),
            ]
        };
        // A phase that ends before `step` hands over to the next; one that ends before step 0
        // (a warm-up shorter than a step) is never used, and the last takes every step left.
        let (last, earlier) = phases.split_last().expect("at least two phases");
        let mut start = 0.0;
        for &(end, from, to) in earlier {
            if step <= end {
                return self.anneal(from, to, (step - start) / (end - start));
            }
            start = end;
        }
        let &(end, from, to) = last;
        self.anneal(from, to, (step - start) / (end - start))
    }
}

#[track_caller]
fn check_positive(name: &str, value: f64) {
    assert!(
        value.is_finite() && value > 0.0,
        "OneCycleLR: invalid {name}: must be finite and above 0, found {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::load_fixture_f64;

    /// The fixture's cases (`tools/fixtures/schedules.py`, `ONE_CYCLE`).
    fn cases() -> [(&'static str, OneCycleLR); 9] {
        [
            ("default_100", OneCycleLR::new(0.1, 100)),
            (
                "linear_pct0p25",
                OneCycleLR::new(0.1, 100).pct_start(0.25).anneal_linear(),
            ),
            ("three_phase", OneCycleLR::new(0.1, 100).three_phase(true)),
            ("odd_7", OneCycleLR::new(0.1, 7)),
            (
                "three_phase_linear_odd_13",
                OneCycleLR::new(0.05, 13)
                    .pct_start(0.4)
                    .anneal_linear()
                    .div_factor(10.0)
                    .final_div_factor(100.0)
                    .three_phase(true),
            ),
            ("pct_start_0", OneCycleLR::new(0.1, 7).pct_start(0.0)),
            (
                "three_phase_pct0p1_7",
                OneCycleLR::new(0.1, 7).pct_start(0.1).three_phase(true),
            ),
            (
                "three_phase_pct0p6_10",
                OneCycleLR::new(0.1, 10).pct_start(0.6).three_phase(true),
            ),
            ("one_step", OneCycleLR::new(0.1, 1)),
        ]
    }

    #[test]
    fn one_cycle_matches_pytorch_bit_for_bit() {
        let fixture = load_fixture_f64("schedules/schedules.safetensors");
        for (name, schedule) in cases() {
            let expected = &fixture[&format!("one_cycle.{name}.lr")];
            let total_steps = expected.len() - 1;
            for (step, &lr) in expected[..total_steps].iter().enumerate() {
                assert_eq!(schedule.lr_at(step), lr, "{name}, step {step}");
            }
        }
    }

    #[test]
    fn one_cycle_holds_its_final_rate_past_the_cycle() {
        let fixture = load_fixture_f64("schedules/schedules.safetensors");
        for (name, schedule) in cases() {
            let expected = &fixture[&format!("one_cycle.{name}.lr")];
            let total_steps = expected.len() - 1;
            let last = expected[total_steps - 1];
            for step in [total_steps, total_steps + 1, usize::MAX] {
                assert_eq!(schedule.lr_at(step), last, "{name}, step {step}");
            }
        }
        // Why not PyTorch's rate at `total_steps`: linearly, it is below zero.
        assert!(fixture["one_cycle.linear_pct0p25.lr"][100] < 0.0);
    }

    #[test]
    #[should_panic(expected = "OneCycleLR: total_steps must be positive")]
    fn one_cycle_rejects_zero_steps() {
        let _ = OneCycleLR::new(0.1, 0);
    }

    #[test]
    #[should_panic(expected = "OneCycleLR: invalid pct_start: must be in [0, 1], found 1.5")]
    fn one_cycle_rejects_a_pct_start_above_1() {
        let _ = OneCycleLR::new(0.1, 10).pct_start(1.5);
    }

    #[test]
    #[should_panic(expected = "OneCycleLR: invalid pct_start: must be in [0, 1], found NaN")]
    fn one_cycle_rejects_a_nan_pct_start() {
        let _ = OneCycleLR::new(0.1, 10).pct_start(f64::NAN);
    }

    #[test]
    #[should_panic(expected = "the warm-up has no length")]
    fn one_cycle_rejects_a_one_step_warm_up() {
        let _ = OneCycleLR::new(0.1, 10).pct_start(0.1);
    }

    #[test]
    #[should_panic(expected = "OneCycleLR: invalid div_factor: must be finite and above 0")]
    fn one_cycle_rejects_a_zero_div_factor() {
        let _ = OneCycleLR::new(0.1, 10).div_factor(0.0);
    }

    #[test]
    #[should_panic(expected = "OneCycleLR: invalid max_lr: must be finite and at least 0")]
    fn one_cycle_rejects_a_negative_max_lr() {
        let _ = OneCycleLR::new(-0.1, 10);
    }

    #[test]
    fn one_cycle_accepts_the_edges_of_pct_start() {
        // pct_start = 1 divides by zero in PyTorch only at step `total_steps`, which is held.
        let schedule = OneCycleLR::new(0.1, 10).pct_start(1.0);
        assert_eq!(schedule.lr_at(9), 0.1);
        assert_eq!(schedule.lr_at(10), 0.1);
        assert!(OneCycleLR::new(0.1, 10).pct_start(0.0).lr_at(0) < 0.1);
    }
}
