//! RMSprop.

use super::lerp;
use super::subnormal::{self, is_subnormal};
use super::{l2_decayed, Optimizer, OptimizerState};
use crate::error::Result;

/// RMSprop (Hinton, 2012), PyTorch's `torch.optim.RMSprop(params, lr, alpha=0.99, eps=1e-8,
/// weight_decay=0, momentum=0, centered=False)`.
///
/// Update for each parameter `p` with gradient `g` (state starts at 0):
///
/// ```text
/// g ← g + wd·p                              (only when weight_decay ≠ 0)
/// v ← α·v + (1 − α)·g²
/// a ← √v + eps                              (not centered)
/// ḡ ← ḡ + (1 − α)·(g − ḡ);  a ← √(v − ḡ²) + eps   (centered)
/// b ← μ·b + g / a;  p ← p − lr·b             (momentum ≠ 0)
/// p ← p − lr·g / a                           (otherwise)
/// ```
///
/// NOTE: `eps` is added outside the square root and there is no bias correction (unlike
/// [`Adam`](crate::Adam)). PyTorch's operation order: scalars rounded from `f64` to `f32`
/// once, `v = fma((1 − α)·g, g, v·α)`, `ḡ = lerp(ḡ, g, 1 − α)`, `a = √(fma(−ḡ, ḡ, v)) + eps`,
/// `b = b·μ + g/a`, then `p = fma(−lr, b, p)` or `p = p + (−lr·g)/a`. This matches the
/// PyTorch fixture to within 1 ulp, not bit for bit, because PyTorch's vectorised `f32`
/// square root is not always correctly rounded.
///
/// State: one `f32` buffer the size of each parameter, plus one for `ḡ` when centered and one
/// for `b` with momentum, allocated on the first step and updated in place.
///
/// ```
/// use nn_runtime::{Optimizer, RMSprop};
///
/// let mut rmsprop = RMSprop::new(0.01);
/// let mut weights = vec![1.0_f32];
/// rmsprop.begin_step();
/// rmsprop.update(0, &mut weights, &[2.0]);
/// // v = 0.01·4, so the step is lr·2/0.2 = 0.1.
/// assert!((weights[0] - 0.9).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct RMSprop {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    step: u64,
    scalars: Scalars,
    state: Vec<State>,
}

/// The constants of the update, rounded to `f32` from `f64` once per step.
#[derive(Debug, Clone, Copy, Default)]
struct Scalars {
    neg_lr: f32,
    alpha: f32,
    one_minus_alpha: f32,
    eps: f32,
    weight_decay: f32,
    momentum: f32,
}

/// The running averages of one parameter tensor.
#[derive(Debug, Clone)]
struct State {
    square_avg: Vec<f32>,
    /// Empty unless centered.
    grad_avg: Vec<f32>,
    /// Empty without momentum.
    momentum_buffer: Vec<f32>,
}

impl RMSprop {
    /// `torch.optim.RMSprop(params, lr=lr)`: alpha 0.99, eps 1e-8, no weight decay, no
    /// momentum, not centered.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    pub fn new(lr: f64) -> Self {
        super::check_non_negative("RMSprop", "learning rate", lr);
        RMSprop {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            step: 0,
            scalars: Scalars::default(),
            state: Vec::new(),
        }
    }

    /// Sets the smoothing constant `α` of the squared-gradient average.
    ///
    /// # Panics
    /// If `alpha` is negative or NaN.
    pub fn alpha(mut self, alpha: f64) -> Self {
        super::check_non_negative("RMSprop", "alpha", alpha);
        self.alpha = alpha;
        self
    }

    /// Sets `eps`, added to the denominator (outside the square root).
    ///
    /// # Panics
    /// If `eps` is negative or NaN.
    pub fn eps(mut self, eps: f64) -> Self {
        super::check_non_negative("RMSprop", "eps", eps);
        self.eps = eps;
        self
    }

    /// Sets the weight decay: an L2 penalty `wd·p` added to the gradient.
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        super::check_non_negative("RMSprop", "weight_decay", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum factor `μ` (0 disables momentum and its buffer).
    ///
    /// # Panics
    /// If `momentum` is negative or NaN, or if momentum is switched on or off after the first
    /// step (the state would not fit).
    pub fn momentum(mut self, momentum: f64) -> Self {
        super::check_non_negative("RMSprop", "momentum", momentum);
        assert!(
            self.state.is_empty() || (momentum > 0.0) == (self.momentum > 0.0),
            "RMSprop: momentum cannot be switched on or off after the first step"
        );
        self.momentum = momentum;
        self
    }

    /// Centers the average: the denominator uses the variance `v − ḡ²` of the gradient rather
    /// than its raw second moment.
    ///
    /// # Panics
    /// If changed after the first step.
    pub fn centered(mut self, centered: bool) -> Self {
        assert!(
            self.state.is_empty() || self.centered == centered,
            "RMSprop: centered cannot change after the first step"
        );
        self.centered = centered;
        self
    }

    /// The number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl Default for RMSprop {
    /// PyTorch's default learning rate, 1e-2.
    fn default() -> Self {
        RMSprop::new(1e-2)
    }
}

crate::simd::multiversion! {
    /// The update of every element, in one pass over parameter, gradient and state: vector code
    /// with hardware FMA where the CPU has it (the results are the same either way; without
    /// it, each `mul_add` would be a call to a software fma). `grad_avg` is empty unless
    /// centered, `momentum_buffer` without momentum.
    fn rmsprop_pass(
        s: &Scalars,
        with_decay: bool,
        value: &mut [f32],
        grad: &[f32],
        square_avg: &mut [f32],
        grad_avg: &mut [f32],
        momentum_buffer: &mut [f32],
    ) => rmsprop_elements;
}

#[inline(always)]
fn rmsprop_elements(
    s: &Scalars,
    with_decay: bool,
    value: &mut [f32],
    grad: &[f32],
    square_avg: &mut [f32],
    grad_avg: &mut [f32],
    momentum_buffer: &mut [f32],
) {
    let state = (square_avg, grad_avg, momentum_buffer);
    // One loop per variant, so that each is a plain vector loop.
    match (!state.1.is_empty(), !state.2.is_empty()) {
        (false, false) => elements::<false, false>(s, with_decay, value, grad, state),
        (false, true) => elements::<false, true>(s, with_decay, value, grad, state),
        (true, false) => elements::<true, false>(s, with_decay, value, grad, state),
        (true, true) => elements::<true, true>(s, with_decay, value, grad, state),
    }
}

/// Elements per block of the pass: one AVX-512 vector.
const BLOCK: usize = 16;

/// The update, `CENTERED` or not, with `MOMENTUM` or not, in PyTorch's order, block by block.
#[inline(always)]
fn elements<const CENTERED: bool, const MOMENTUM: bool>(
    s: &Scalars,
    with_decay: bool,
    value: &mut [f32],
    grad: &[f32],
    (square_avg, grad_avg, momentum_buffer): (&mut [f32], &mut [f32], &mut [f32]),
) {
    // Slices of one known length let the compiler drop the bounds checks.
    let n = value.len();
    let (grad, square_avg) = (&grad[..n], &mut square_avg[..n]);
    let grad_avg = if CENTERED {
        &mut grad_avg[..n]
    } else {
        grad_avg
    };
    let momentum_buffer = if MOMENTUM {
        &mut momentum_buffer[..n]
    } else {
        momentum_buffer
    };
    let quiet_allowed = s.quiet_lanes_allowed(CENTERED, MOMENTUM);
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let subnormal_state = quiet_allowed
            && (start..end).fold(false, |any, i| {
                any | is_subnormal(square_avg[i])
                    | (CENTERED && is_subnormal(grad_avg[i]))
                    | (MOMENTUM && is_subnormal(momentum_buffer[i]))
            });
        for i in start..end {
            let (mean, b) = (
                if CENTERED { grad_avg[i] } else { 0.0 },
                if MOMENTUM { momentum_buffer[i] } else { 0.0 },
            );
            let state = (square_avg[i], mean, b);
            let (p, (v, mean, b)) = if subnormal_state {
                s.update_with_quiet_lane::<CENTERED, MOMENTUM>(with_decay, value[i], grad[i], state)
            } else {
                s.update::<CENTERED, MOMENTUM>(with_decay, value[i], grad[i], state)
            };
            (value[i], square_avg[i]) = (p, v);
            if CENTERED {
                grad_avg[i] = mean;
            }
            if MOMENTUM {
                momentum_buffer[i] = b;
            }
        }
        start = end;
    }
}

/// A lane's state: the square average `v`, the gradient average `ḡ` (centered) and the
/// momentum buffer `b` (0 where unused).
type Lane = (f32, f32, f32);

impl Scalars {
    /// One element's update: the new parameter and state.
    #[inline(always)]
    fn update<const CENTERED: bool, const MOMENTUM: bool>(
        &self,
        with_decay: bool,
        p: f32,
        g: f32,
        (v, mean, b): Lane,
    ) -> (f32, Lane) {
        let g = l2_decayed(with_decay, self.weight_decay, p, g);
        let v = (self.one_minus_alpha * g).mul_add(g, v * self.alpha);
        let (mean, root) = if CENTERED {
            let mean = lerp(mean, g, self.one_minus_alpha);
            (mean, (-mean).mul_add(mean, v).sqrt())
        } else {
            (mean, v.sqrt())
        };
        let denom = root + self.eps;
        if MOMENTUM {
            let b = b * self.momentum + g / denom;
            (self.neg_lr.mul_add(b, p), (v, mean, b))
        } else {
            (p + (self.neg_lr * g) / denom, (v, mean, b))
        }
    }

    /// Whether [`Scalars::update_with_quiet_lane`] may take its shortcut: square average and
    /// buffer that decay (`α < 1`, `μ < 1`), `eps > 0` (so the denominator is never 0), a
    /// learning rate of at most 2¹⁰, and when centered `1 − α < 0.5` (so the gradient average's
    /// lerp is one fma from its start).
    fn quiet_lanes_allowed(&self, centered: bool, momentum: bool) -> bool {
        self.alpha < 1.0
            && self.eps > 0.0
            && self.neg_lr.abs() <= 1024.0
            && (!momentum || self.momentum < 1.0)
            && (!centered || self.one_minus_alpha < 0.5)
    }

    /// [`Scalars::update`], bit for bit, without arithmetic on the subnormal state of a unit
    /// that no longer receives gradient ([`super::subnormal`]).
    ///
    /// For a "quiet" lane (gradient ±0 after any weight decay, |parameter| ≥ 2⁻⁴⁸, and when
    /// centered a gradient average that is subnormal or zero), the quotient `g/denom` is a zero
    /// whatever the (positive) denominator, so:
    /// * a subnormal `v` becomes `RN(v·α)`, computed on its integer, and the denominator is
    ///   computed from 0 instead;
    /// * a subnormal gradient average `ḡ` becomes `lerp(ḡ, 0, 1 − α)`, computed on its
    ///   integer, and the denominator is computed from 0 instead (`ḡ²` is below 2⁻²⁵², so
    ///   `√(v − ḡ²)` is never `NaN`, with or without it);
    /// * a subnormal buffer `b` becomes `RN(b·μ) + (±0)`, computed on its integer (a zero takes
    ///   the sign of the sum), and the parameter, whose step `lr·b` is under half an ulp of it,
    ///   does not move: the update from `b = 0` gives the same parameter.
    #[inline(always)]
    fn update_with_quiet_lane<const CENTERED: bool, const MOMENTUM: bool>(
        &self,
        with_decay: bool,
        p: f32,
        g: f32,
        (v, mean, b): Lane,
    ) -> (f32, Lane) {
        let zero_gradient = l2_decayed(with_decay, self.weight_decay, p, g);
        let mean_is_subnormal = CENTERED && is_subnormal(mean);
        // `&` rather than `&&`: no branches, so that the block stays vector code.
        let quiet = (zero_gradient.to_bits() << 1 == 0)
            & subnormal::magnitude_at_least(p, f32::powi(2.0, -48))
            & (!CENTERED || mean_is_subnormal | (mean.to_bits() << 1 == 0));
        let (quiet_v, quiet_mean, quiet_b) = (
            quiet & is_subnormal(v),
            quiet & mean_is_subnormal,
            quiet & is_subnormal(b),
        );
        let state = (
            if quiet_v { 0.0 } else { v },
            if quiet_mean { 0.0 } else { mean },
            if quiet_b { 0.0 } else { b },
        );
        let (p, (v_ordinary, mean_ordinary, b_ordinary)) =
            self.update::<CENTERED, MOMENTUM>(with_decay, p, g, state);
        let v = if quiet_v {
            subnormal::scale(v, self.alpha)
        } else {
            v_ordinary
        };
        let mean = if quiet_mean {
            subnormal::lerp_to_zero(mean, self.one_minus_alpha)
        } else {
            mean_ordinary
        };
        let b = if MOMENTUM && quiet_b {
            // `g/denom` is a zero with the sign of `g`.
            subnormal::scale_plus_zero(b, self.momentum, zero_gradient)
        } else {
            b_ordinary
        };
        (p, (v, mean, b))
    }
}

impl Optimizer for RMSprop {
    fn begin_step(&mut self) {
        self.step += 1;
        self.scalars = Scalars {
            neg_lr: (-self.lr) as f32,
            alpha: self.alpha as f32,
            one_minus_alpha: (1.0 - self.alpha) as f32,
            eps: self.eps as f32,
            weight_decay: self.weight_decay as f32,
            momentum: self.momentum as f32,
        };
    }

    /// # Panics
    /// If `index` skips a parameter never seen before, if `value` and `grad` differ in length,
    /// if parameter `index` changed length since the first step, or if momentum was turned on
    /// or off since.
    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]) {
        assert_eq!(
            value.len(),
            grad.len(),
            "RMSprop: parameter {index} and its gradient"
        );
        let (with_decay, centered, with_momentum) = (
            self.weight_decay != 0.0,
            self.centered,
            self.momentum != 0.0,
        );
        if index == self.state.len() {
            let zeros = |on: bool| {
                if on {
                    vec![0.0; value.len()]
                } else {
                    Vec::new()
                }
            };
            self.state.push(State {
                square_avg: zeros(true),
                grad_avg: zeros(centered),
                momentum_buffer: zeros(with_momentum),
            });
        }
        let s = self.scalars;
        let state = &mut self.state[index];
        assert_eq!(
            state.square_avg.len(),
            value.len(),
            "RMSprop: parameter {index} changed length"
        );
        assert!(
            value.is_empty()
                || (state.momentum_buffer.is_empty() != with_momentum
                    && state.grad_avg.is_empty() != centered),
            "RMSprop: momentum and centered cannot change after the first step"
        );
        rmsprop_pass(
            &s,
            with_decay,
            value,
            grad,
            &mut state.square_avg,
            &mut state.grad_avg,
            &mut state.momentum_buffer,
        );
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        super::check_non_negative("RMSprop", "learning rate", lr);
        self.lr = lr;
    }

    fn state(&self) -> Option<OptimizerState> {
        let buffers = self.state.iter().map(|state| {
            let all = [
                ("square_avg", &state.square_avg),
                ("grad_avg", &state.grad_avg),
                ("momentum_buffer", &state.momentum_buffer),
            ];
            let kept = all
                .into_iter()
                .filter(|(name, _)| self.buffer_names().contains(name));
            kept.map(|(name, values)| (name.to_owned(), values.clone()))
                .collect()
        });
        Some(OptimizerState {
            step: self.step,
            buffers: buffers.collect(),
        })
    }

    fn restore_state(&mut self, state: &OptimizerState) -> Result<()> {
        let names = self.buffer_names();
        let state_of = |index| -> Result<State> {
            let mut buffers = state.take(index, &names)?.into_iter();
            let mut next_if = |on: bool| {
                if on {
                    buffers.next().unwrap_or_default()
                } else {
                    Vec::new()
                }
            };
            Ok(State {
                square_avg: next_if(true),
                grad_avg: next_if(self.centered),
                momentum_buffer: next_if(self.momentum != 0.0),
            })
        };
        self.state = (0..state.buffers.len())
            .map(state_of)
            .collect::<Result<_>>()?;
        self.step = state.step;
        Ok(())
    }
}

impl RMSprop {
    /// PyTorch's names of the buffers each parameter has with these settings, in [`State`]'s
    /// order.
    fn buffer_names(&self) -> Vec<&'static str> {
        let optional = [
            (self.centered, "grad_avg"),
            (self.momentum != 0.0, "momentum_buffer"),
        ];
        let kept = optional
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name));
        std::iter::once("square_avg").chain(kept).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{
        assert_zero_gradient_is_a_no_op, awkward_gradients, awkward_value, check_fixture,
        check_fixture_step_by_step, Model,
    };
    use proptest::prelude::*;

    #[test]
    fn a_restored_state_takes_the_next_step_bit_for_bit() {
        crate::optim::test_support::assert_state_resumes(|| RMSprop::new(0.01));
        crate::optim::test_support::assert_state_resumes(|| {
            RMSprop::new(0.01).momentum(0.9).centered(true)
        });
    }

    #[test]
    fn subnormal_shortcut_is_bit_exact() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let configs = [
            RMSprop::new(1e-2),
            RMSprop::new(1e-3).alpha(0.9),
            RMSprop::new(1e-2).momentum(0.9),
            RMSprop::new(1e-2).momentum(0.3).weight_decay(0.01),
            RMSprop::new(1000.0).momentum(0.5),
            RMSprop::new(1e-2).centered(true).momentum(0.9),
            RMSprop::new(1e-2).centered(true),
            RMSprop::new(1e-3)
                .centered(true)
                .alpha(0.9)
                .weight_decay(0.01),
            RMSprop::new(1e-2).eps(0.0),
        ];
        for (c, mut rmsprop) in configs.into_iter().enumerate() {
            rmsprop.begin_step();
            let s = rmsprop.scalars;
            let (centered, momentum) = (rmsprop.centered, rmsprop.momentum != 0.0);
            let with_decay = rmsprop.weight_decay != 0.0;
            let n = 1000 + c;
            let mut p: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng)).collect();
            let g = awkward_gradients(&mut rng, n, 16);
            let mut v: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng).abs()).collect();
            let optional = |on: bool, rng: &mut rand::rngs::StdRng| -> Vec<f32> {
                let len = if on { n } else { 0 };
                (0..len).map(|_| awkward_value(rng)).collect()
            };
            let mut mean = optional(centered, &mut rng);
            let mut b = optional(momentum, &mut rng);
            // A block of negative buffers whose product with a small μ rounds to −0, while the
            // gradient term is +0: the sum is +0.
            for i in 0..16 {
                (p[i], v[i]) = (1.0, f32::from_bits(1 + i as u32));
                if momentum {
                    b[i] = -f32::from_bits(1 + i as u32 % 3);
                }
            }
            let expected: Vec<(f32, Lane)> = (0..n)
                .map(|i| {
                    let lane = (
                        v[i],
                        mean.get(i).copied().unwrap_or(0.0),
                        b.get(i).copied().unwrap_or(0.0),
                    );
                    match (centered, momentum) {
                        (false, false) => s.update::<false, false>(with_decay, p[i], g[i], lane),
                        (false, true) => s.update::<false, true>(with_decay, p[i], g[i], lane),
                        (true, false) => s.update::<true, false>(with_decay, p[i], g[i], lane),
                        (true, true) => s.update::<true, true>(with_decay, p[i], g[i], lane),
                    }
                })
                .collect();
            rmsprop_pass(&s, with_decay, &mut p, &g, &mut v, &mut mean, &mut b);
            for (i, &(ep, (ev, emean, eb))) in expected.iter().enumerate() {
                let bits = |x: f32| x.to_bits();
                assert_eq!(
                    (bits(p[i]), bits(v[i])),
                    (bits(ep), bits(ev)),
                    "config {c}, element {i}: g {:e}",
                    g[i]
                );
                if centered {
                    assert_eq!(bits(mean[i]), bits(emean), "config {c}, element {i}");
                }
                if momentum {
                    assert_eq!(bits(b[i]), bits(eb), "config {c}, element {i}");
                }
            }
        }
    }

    #[test]
    fn matches_pytorch_within_one_ulp_per_step() {
        // PyTorch's f32 sqrt is faithful, not correctly rounded, so a step can land 1 ulp away
        // from PyTorch's; over six steps those differences add up to 2 ulps.
        let worst = check_fixture(&mut RMSprop::new(0.01), "rmsprop", 1e-6);
        assert!(worst <= 2, "{worst} ulps from PyTorch after six steps");
        let per_step = check_fixture_step_by_step(&mut RMSprop::new(0.01), "rmsprop", 1e-6);
        assert!(per_step <= 1, "{per_step} ulps from PyTorch in one step");
    }

    #[test]
    fn defaults_and_builder() {
        let rmsprop = RMSprop::default();
        assert_eq!(
            (rmsprop.lr(), rmsprop.alpha, rmsprop.eps),
            (1e-2, 0.99, 1e-8)
        );
        assert_eq!(
            (rmsprop.momentum, rmsprop.centered, rmsprop.weight_decay),
            (0.0, false, 0.0)
        );
        let mut rmsprop = RMSprop::new(0.1)
            .alpha(0.9)
            .eps(1e-6)
            .weight_decay(0.1)
            .momentum(0.5);
        assert_eq!(
            (rmsprop.alpha, rmsprop.eps, rmsprop.weight_decay),
            (0.9, 1e-6, 0.1)
        );
        rmsprop.set_lr(0.5);
        assert_eq!(rmsprop.lr(), 0.5);
    }

    /// Two steps of the textbook formulas, in f64.
    fn reference(momentum: f64, centered: bool, wd: f64, g: [f64; 2], p0: f64) -> f64 {
        let (lr, alpha, eps) = (0.01, 0.9, 1e-8);
        let (mut p, mut v, mut mean, mut b) = (p0, 0.0, 0.0, 0.0);
        for g in g {
            let g = g + wd * p;
            v = alpha * v + (1.0 - alpha) * g * g;
            let a = if centered {
                mean = alpha * mean + (1.0 - alpha) * g;
                (v - mean * mean).sqrt() + eps
            } else {
                v.sqrt() + eps
            };
            if momentum > 0.0 {
                b = momentum * b + g / a;
                p -= lr * b;
            } else {
                p -= lr * g / a;
            }
        }
        p
    }

    #[test]
    fn momentum_centered_and_weight_decay_follow_the_formulas() {
        for (momentum, centered, wd) in [(0.0, true, 0.0), (0.8, false, 0.0), (0.8, true, 0.1)] {
            let mut rmsprop = RMSprop::new(0.01)
                .alpha(0.9)
                .momentum(momentum)
                .centered(centered)
                .weight_decay(wd);
            let mut model = Model::one(&[1.5]);
            for g in [0.5, -2.0] {
                model.grads[0][0] = g;
                rmsprop.step(&mut model);
            }
            let expected = reference(momentum, centered, wd, [0.5, -2.0], 1.5);
            let got = f64::from(model.values[0][0]);
            assert!(
                (got - expected).abs() < 1e-6,
                "{momentum} {centered}: {got} vs {expected}"
            );
            assert_eq!(rmsprop.steps(), 2);
        }
    }

    proptest! {
        #[test]
        fn zero_gradient_changes_nothing(
            values in proptest::collection::vec(-1e3f32..1e3, 1..20),
            lr in 1e-4f64..1.0,
            alpha in 0.0f64..1.0,
            momentum in 0.0f64..0.99,
            centered: bool,
        ) {
            let mut rmsprop = RMSprop::new(lr).alpha(alpha).momentum(momentum).centered(centered);
            assert_zero_gradient_is_a_no_op(&mut rmsprop, &values);
        }
    }
}
