//! Adam, and the machinery AdamW shares with it.

use super::subnormal::{self, is_subnormal};
use super::{check_fraction, check_non_negative, l2_decayed, Optimizer};
use crate::aligned::AlignedVec;

/// Adam (Kingma & Ba, 2015), PyTorch's `torch.optim.Adam(params, lr, betas=(0.9, 0.999),
/// eps=1e-8, weight_decay=0, amsgrad=False)`.
///
/// Update for step `t` of each parameter `p` with gradient `g` (moments `m`, `v` start at 0):
///
/// ```text
/// g ← g + wd·p                                  (only when weight_decay ≠ 0: L2, coupled)
/// m ← m + (1 − β₁)·(g − m)                      (lerp)
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v), then use v̂ for v            (only with amsgrad)
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)
/// ```
///
/// NOTE: PyTorch's operation order, which makes the results bit-exact with its CPU
/// (single-tensor) implementation, as the fixtures check. Scalars are computed per step in
/// `f64` and rounded to `f32` once: `w = f32(1 − β₁)`, `b₂ = f32(β₂)`, `c₂ = f32(1 − β₂)`,
/// `s = f32(lr / (1 − β₁ᵗ))`, `r = f32(√(1 − β₂ᵗ))`. Then, per element, in `f32`:
/// `g = fma(wd, p, g)`; `m = fma(w, g − m, m)`; `v = fma(c₂·g, g, v·b₂)`;
/// `p = p + (−s·m) / (√v / r + eps)` (a division, no fma; `√v / r` rounds as a division,
/// though it is computed with fmas). Rounding `1 − β₂` from `f64` matters: `1f32 − 0.999f32`
/// is off by 1.3e-5 relative, a systematic bias in `v`.
///
/// State: two (three with amsgrad) `f32` buffers the size of each parameter, allocated on the
/// first step and updated in place, in one pass over parameter and state memory. The step
/// counter `t` is shared by all parameters (PyTorch keeps one per parameter; they differ only
/// for a parameter that starts receiving updates after the first step).
///
/// ```
/// use nn_runtime::{Adam, Optimizer};
///
/// let mut adam = Adam::new(0.1).betas(0.9, 0.999).weight_decay(0.0);
/// let mut weights = vec![1.0_f32, -2.0];
/// adam.begin_step();
/// adam.update(0, &mut weights, &[0.5, -3.0]);
/// // The first Adam step moves each coordinate by about lr, against the gradient's sign.
/// assert!((weights[0] - 0.9).abs() < 1e-6 && (weights[1] - -1.9).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    /// AdamW: the weight decay multiplies the parameter instead of adding to the gradient.
    decoupled: bool,
    step: u64,
    scalars: Scalars,
    state: Vec<Moments>,
}

/// The per-step constants of the update, rounded to `f32` from `f64`.
#[derive(Debug, Clone, Copy, Default)]
struct Scalars {
    /// `1 − β₁`, the lerp weight of the first moment.
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// `−lr / (1 − β₁ᵗ)`.
    neg_step_size: f32,
    /// `√(1 − β₂ᵗ)`, the divisor of `√v`.
    bias_correction2_sqrt: ScalarDivisor,
    eps: f32,
    /// Adam's L2 weight decay `wd` (`g ← g + wd·p`); 0 without.
    coupled_decay: f32,
    /// The smallest parameter magnitude that a step from a subnormal first moment cannot move:
    /// half an ulp of a normal `p` exceeds `|p|·2⁻²⁵`, and the step is below
    /// `|s|·2⁻¹²⁶·(1 + 2⁻²³)/eps`, so `2·|s|·2⁻¹⁰¹/eps` (or the smallest normal) will do. A
    /// weight that AdamW decays for a long time keeps the shortcut down to there.
    quiet_parameter_floor: f32,
    /// AdamW's shrink factor (`p ← p·(1 − lr·wd)`); 1 without.
    ///
    /// NOTE: plain numbers, not an enum: the compiler may compute a branch's arithmetic before
    /// the branch is known, and on an enum's uninitialised payload that could be a subnormal,
    /// which costs a microcode assist on every element.
    decoupled_factor: f32,
}

/// Division by one fixed `f32` divisor `d ∈ [2⁻²⁷, 1]` (what `√(1 − β₂ᵗ)` rounds to for any
/// `β₂ < 1`) of `x ≥ 0` (a square root), correctly rounded like `x / d`, in multiplications:
/// a division occupies the divider (shared with the square root, and the bottleneck of the
/// whole pass) about as long as ten fused multiply-adds.
///
/// NOTE: why the result is `RN(x / d)`. With `y = RN(1/d)` (relative error below 2⁻²⁴):
/// * `q₀ = RN(x·y)` is within 1.5 ulp of `x/d`;
/// * `q₁ = RN(q₀ + RN(x − d·q₀)·y)` (two fmas) is within half an ulp plus `1.5·2⁻²³` ulp of
///   `x/d`, so it is one of the two `f32`s around `x/d` (a faithful quotient);
/// * for a faithful `q₁` the remainder `x − d·q₁` is exactly an `f32`, and Markstein's theorem
///   (Muller et al., *Handbook of Floating-Point Arithmetic*, §4.7) gives
///   `RN(q₁ + (x − d·q₁)·y) = RN(x/d)` when `y` has relative error below 2⁻²⁴.
///
/// No step underflows or overflows for `x ≥ 2⁻⁷⁵` (the smallest nonzero square root) and `d`
/// in range: the quotient stays below 2⁹¹, and a remainder too small for a normal `f32` is
/// still a multiple of 2⁻¹⁴⁹, so it is exact. `x = 0` gives `+0`, `NaN` stays `NaN`, and an
/// infinite `x` (whose remainder would be `NaN`) takes `q₀ = ∞`.
/// `tests::scalar_division_is_exact` checks every significand against the division.
#[derive(Debug, Clone, Copy)]
struct ScalarDivisor {
    divisor: f32,
    /// `RN(1/divisor)`.
    inverse: f32,
}

impl ScalarDivisor {
    fn new(divisor: f32) -> Self {
        debug_assert!(
            (f32::powi(2.0, -27)..=1.0).contains(&divisor),
            "divisor {divisor:e} out of range"
        );
        ScalarDivisor {
            divisor,
            inverse: 1.0 / divisor,
        }
    }

    /// `x / divisor`, bit for bit, for `x ≥ 0`, infinite or `NaN`.
    #[inline(always)]
    fn divide(self, x: f32) -> f32 {
        let (d, y) = (self.divisor, self.inverse);
        let q0 = x * y;
        let q1 = (-q0).mul_add(d, x).mul_add(y, q0);
        let q2 = (-q1).mul_add(d, x).mul_add(y, q1);
        if x.is_infinite() {
            q0
        } else {
            q2
        }
    }
}

impl Default for ScalarDivisor {
    fn default() -> Self {
        ScalarDivisor::new(1.0)
    }
}

/// The moments of one parameter tensor.
#[derive(Debug, Clone)]
struct Moments {
    exp_avg: AlignedVec,
    exp_avg_sq: AlignedVec,
    /// Empty without amsgrad.
    max_exp_avg_sq: AlignedVec,
}

/// `start + weight·(end − start)` rounded as PyTorch's vectorised `lerp` does on AVX2/AVX-512:
/// one fma from whichever end is nearer.
#[inline(always)]
pub(super) fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        weight.mul_add(end - start, start)
    } else {
        (weight - 1.0).mul_add(end - start, end)
    }
}

impl Adam {
    /// `torch.optim.Adam(params, lr=lr)`: betas (0.9, 0.999), eps 1e-8, no weight decay, no
    /// amsgrad.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    pub fn new(lr: f64) -> Self {
        check_non_negative("Adam", "learning rate", lr);
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
            step: 0,
            scalars: Scalars::default(),
            state: Vec::new(),
        }
    }

    /// AdamW's configuration: decoupled weight decay, 0.01 by default.
    pub(super) fn decoupled(lr: f64) -> Self {
        Adam {
            decoupled: true,
            weight_decay: 0.01,
            ..Adam::new(lr)
        }
    }

    /// Sets the decay rates `(β₁, β₂)` of the two moment averages.
    ///
    /// # Panics
    /// Unless both are in `[0, 1)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        check_fraction("Adam", "beta1", beta1);
        check_fraction("Adam", "beta2", beta2);
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets `eps`, added to the denominator (outside the square root).
    ///
    /// # Panics
    /// If `eps` is negative or NaN.
    pub fn eps(mut self, eps: f64) -> Self {
        check_non_negative("Adam", "eps", eps);
        self.eps = eps;
        self
    }

    /// Sets the weight decay: an L2 penalty `wd·p` added to the gradient (for Adam), or a
    /// decoupled shrink `p·(1 − lr·wd)` (for [`AdamW`](crate::AdamW)).
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_non_negative("Adam", "weight_decay", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// Enables AMSGrad: the denominator uses the running maximum of `v`.
    ///
    /// # Panics
    /// If called with a different value after the first step (the state would not fit).
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        assert!(
            self.state.is_empty() || self.amsgrad == amsgrad,
            "Adam: amsgrad cannot change after the first step"
        );
        self.amsgrad = amsgrad;
        self
    }

    /// The number of steps taken, PyTorch's `state['step']`.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl Default for Adam {
    /// PyTorch's default learning rate, 1e-3.
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Scalars {
    /// The weight decay, then the moment updates; returns nothing, updates in place.
    #[inline(always)]
    fn moments(&self, p: &mut f32, g: f32, m: &mut f32, v: &mut f32) {
        let g = l2_decayed(self.coupled_decay != 0.0, self.coupled_decay, *p, g);
        if self.decoupled_factor != 1.0 {
            *p *= self.decoupled_factor;
        }
        *m = lerp(*m, g, self.one_minus_beta1);
        *v = (self.one_minus_beta2 * g).mul_add(g, *v * self.beta2);
    }

    /// The parameter step from the first moment and the (maximum) second moment.
    #[inline(always)]
    fn apply(&self, p: &mut f32, m: f32, v: f32) {
        let denom = self.bias_correction2_sqrt.divide(v.sqrt()) + self.eps;
        *p += (self.neg_step_size * m) / denom;
    }
}

crate::simd::multiversion! {
    /// The update of every element, in one pass over parameter, gradient and moments: vector
    /// code with hardware FMA where the CPU has it (the results are the same either way).
    fn adam_pass(s: &Scalars, value: &mut [f32], grad: &[f32], exp_avg: &mut [f32], exp_avg_sq: &mut [f32]) => adam_elements;
}

crate::simd::multiversion! {
    /// The AMSGrad update of every element (as [`adam_pass`]).
    fn amsgrad_pass(
        s: &Scalars,
        value: &mut [f32],
        grad: &[f32],
        moments: (&mut [f32], &mut [f32]),
        max_exp_avg_sq: &mut [f32],
    ) => amsgrad_elements;
}

#[inline(always)]
fn amsgrad_elements(
    s: &Scalars,
    value: &mut [f32],
    grad: &[f32],
    moments: (&mut [f32], &mut [f32]),
    max_exp_avg_sq: &mut [f32],
) {
    elements::<true>(s, value, grad, moments, max_exp_avg_sq);
}

/// Elements per block of the pass: one AVX-512 vector.
const BLOCK: usize = 16;

#[inline(always)]
fn adam_elements(
    s: &Scalars,
    value: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    elements::<false>(s, value, grad, (exp_avg, exp_avg_sq), &mut []);
}

/// The pass, with or without `AMSGRAD` (`max_exp_avg_sq` is empty without).
#[inline(always)]
fn elements<const AMSGRAD: bool>(
    s: &Scalars,
    value: &mut [f32],
    grad: &[f32],
    (exp_avg, exp_avg_sq): (&mut [f32], &mut [f32]),
    max_exp_avg_sq: &mut [f32],
) {
    // Blocks of one known length (rather than zipped iterators) let the compiler drop the
    // bounds checks and turn each block into a few vector instructions.
    let n = value.len();
    let (grad, exp_avg, exp_avg_sq) = (&grad[..n], &mut exp_avg[..n], &mut exp_avg_sq[..n]);
    let max_exp_avg_sq = if AMSGRAD {
        &mut max_exp_avg_sq[..n]
    } else {
        max_exp_avg_sq
    };
    let quiet_allowed = s.quiet_lanes_allowed();
    let whole = n - n % BLOCK;
    for start in (0..whole).step_by(BLOCK) {
        let r = start..start + BLOCK;
        let p: &mut [f32; BLOCK] = (&mut value[r.clone()]).try_into().expect("a whole block");
        let g: &[f32; BLOCK] = grad[r.clone()].try_into().expect("a whole block");
        let m: &mut [f32; BLOCK] = (&mut exp_avg[r.clone()]).try_into().expect("a whole block");
        let v: &mut [f32; BLOCK] = (&mut exp_avg_sq[r.clone()])
            .try_into()
            .expect("a whole block");
        let mut unused = [0.0; BLOCK];
        let v_max: &mut [f32; BLOCK] = if AMSGRAD {
            (&mut max_exp_avg_sq[r]).try_into().expect("a whole block")
        } else {
            &mut unused
        };
        let subnormal: [bool; BLOCK] = std::array::from_fn(|i| is_subnormal(m[i]));
        if quiet_allowed && subnormal.iter().fold(false, |any, &s| any | s) {
            // The second moments reach the subnormals only long after the first: test for
            // them once per block, and only here.
            let v_subnormal = v.iter().fold(false, |any, &v| any | is_subnormal(v));
            let lanes = (p, g, (m, v, v_max), &subnormal);
            match (v_subnormal, s.decoupled_factor != 1.0) {
                (true, true) => s.quiet_lanes::<true, AMSGRAD, true>(lanes),
                (true, false) => s.quiet_lanes::<true, AMSGRAD, false>(lanes),
                (false, true) => s.quiet_lanes::<false, AMSGRAD, true>(lanes),
                (false, false) => s.quiet_lanes::<false, AMSGRAD, false>(lanes),
            }
        } else {
            for i in 0..BLOCK {
                (p[i], (m[i], v[i], v_max[i])) =
                    s.update_any::<AMSGRAD>(p[i], g[i], (m[i], v[i], v_max[i]));
            }
        }
    }
    for i in whole..n {
        let moments = (
            exp_avg[i],
            exp_avg_sq[i],
            if AMSGRAD { max_exp_avg_sq[i] } else { 0.0 },
        );
        let (p, (m, v, v_max)) = if quiet_allowed {
            let subnormal = is_subnormal(exp_avg[i]);
            let (p, m, v, v_max) =
                s.quiet_lane::<true, AMSGRAD, true>(value[i], grad[i], moments, subnormal);
            (p, (m, v, v_max))
        } else {
            s.update_any::<AMSGRAD>(value[i], grad[i], moments)
        };
        (value[i], exp_avg[i], exp_avg_sq[i]) = (p, m, v);
        if AMSGRAD {
            max_exp_avg_sq[i] = v_max;
        }
    }
}

impl Scalars {
    /// One element's update, in PyTorch's order.
    #[inline(always)]
    fn update(&self, mut p: f32, g: f32, mut m: f32, mut v: f32) -> (f32, f32, f32) {
        self.moments(&mut p, g, &mut m, &mut v);
        self.apply(&mut p, m, v);
        (p, m, v)
    }

    /// Whether [`Scalars::quiet_lane`] may take its shortcut this step: `1 − β₁`
    /// below one half (so the first moment is a single fma), `eps > 0` (so the denominator is
    /// never 0), and no L2 term that would make a zero gradient nonzero.
    fn quiet_lanes_allowed(&self) -> bool {
        self.one_minus_beta1 < 0.5 && self.eps > 0.0 && self.coupled_decay == 0.0
    }

    /// [`Scalars::update_amsgrad`], or [`Scalars::update`] (`v̂` passed through).
    #[inline(always)]
    fn update_any<const AMSGRAD: bool>(
        &self,
        p: f32,
        g: f32,
        moments: Moments3,
    ) -> (f32, Moments3) {
        if AMSGRAD {
            self.update_amsgrad(p, g, moments)
        } else {
            let (m, v, v_max) = moments;
            let (p, m, v) = self.update(p, g, m, v);
            (p, (m, v, v_max))
        }
    }

    /// One element's AMSGrad update: the new parameter and moments `(m, v, v̂)`.
    #[inline(always)]
    fn update_amsgrad(
        &self,
        mut p: f32,
        g: f32,
        (mut m, mut v, v_max): Moments3,
    ) -> (f32, Moments3) {
        self.moments(&mut p, g, &mut m, &mut v);
        let v_max = new_max(v_max, v);
        self.apply(&mut p, m, v_max);
        (p, (m, v, v_max))
    }

    /// [`Scalars::quiet_lane`] for each lane of a block; `subnormal` tells which first moments
    /// are. `DECAY`: AdamW's decay may be on (`decoupled_factor ≠ 1`).
    #[inline(always)]
    fn quiet_lanes<const SUBNORMAL_V: bool, const AMSGRAD: bool, const DECAY: bool>(
        &self,
        (p, g, (m, v, v_max), subnormal): QuietBlock<'_>,
    ) {
        for i in 0..BLOCK {
            (p[i], m[i], v[i], v_max[i]) = self.quiet_lane::<SUBNORMAL_V, AMSGRAD, DECAY>(
                p[i],
                g[i],
                (m[i], v[i], v_max[i]),
                subnormal[i],
            );
        }
    }

    /// [`Scalars::update`] (with `AMSGRAD`, [`Scalars::update_amsgrad`]), bit for bit,
    /// without arithmetic on a subnormal first moment where the gradient is zero: the state of
    /// a unit that no longer receives gradient (a dead ReLU), whose first moment decays towards
    /// zero and stays stuck at a few multiples of the smallest subnormal. Each floating-point operation on a subnormal costs a microcode
    /// assist, about a hundred cycles, which made such a pass several times slower.
    ///
    /// For such a "quiet" lane (gradient ±0, first moment subnormal):
    /// * the first moment is `fma(w, 0 − m, m)`, the exact `(1 − w)·m` rounded to the subnormal
    ///   grid, whose points are the integers `k·2⁻¹⁴⁹`. It is computed on the integer `k` (read
    ///   from the bits, [`subnormal::lerp_to_zero`]);
    /// * the parameter, after any decoupled decay (`RN(p·(1 − lr·wd))`, on the integer for a
    ///   subnormal `p`), does not move, in either of two cases:
    ///   - the numerator `RN(−s·m)` is 0: `|s|·k < ½` for the new `k`, the usual case of a
    ///     moment stuck at a few units. The step is then ±0, and adding it leaves a nonzero
    ///     parameter as it is;
    ///   - the parameter is at least `quiet_parameter_floor`: the step is below
    ///     `|s|·2⁻¹²⁶·(1 + 2⁻²³)/eps` (the denominator is at least `eps`), under half its ulp.
    ///
    ///   Either way the denominator cannot be `NaN`: a `NaN` second moment needs a `NaN`
    ///   gradient, which leaves the first moment `NaN` for ever, never subnormal;
    /// * a subnormal second moment `v = j·2⁻¹⁴⁹` becomes `RN(β₂·j)·2⁻¹⁴⁹`, computed on the
    ///   integer `j` likewise ([`subnormal::scale`]).
    ///
    /// The first case is tested only with `DECAY` (AdamW's decay may be on): it matters there,
    /// because the decay takes a dead unit's weights below the floor after a few hundred
    /// thousand steps, and into the subnormals later. Without it parameters do not shrink.
    ///
    /// With AMSGRAD, `v̂` is only compared (no arithmetic), and a quiet lane's denominator
    /// does not matter, so it is computed from 0, away from any subnormal.
    ///
    /// Without `SUBNORMAL_V`, the caller knows `v` is not subnormal. Returns `(p, m, v, v̂)`.
    #[inline(always)]
    fn quiet_lane<const SUBNORMAL_V: bool, const AMSGRAD: bool, const DECAY: bool>(
        &self,
        p: f32,
        g: f32,
        (m, v, v_max): Moments3,
        m_is_subnormal: bool,
    ) -> (f32, f32, f32, f32) {
        // Both sides of each `if` are computed (the block is vector code): neither multiplies
        // a subnormal.
        let p_is_subnormal = DECAY && is_subnormal(p);
        let decayed = if !DECAY || self.decoupled_factor == 1.0 {
            p
        } else {
            let product = if p_is_subnormal { 0.0 } else { p } * self.decoupled_factor;
            if p_is_subnormal {
                subnormal::scale(p, self.decoupled_factor)
            } else {
                product
            }
        };
        let m_quiet = subnormal::lerp_to_zero(m, self.one_minus_beta1);
        // `k` as a float is exact (`k < 2²³`), and rounding is monotonic: the product is below
        // ½ exactly when `|s|·k` is.
        let units = (m_quiet.to_bits() & 0x007f_ffff) as f32;
        let no_numerator =
            DECAY & (units * self.neg_step_size.abs() < 0.5) & (decayed.to_bits() << 1 != 0);
        // `&` rather than `&&`: no branches, so that the block stays vector code.
        let quiet = (g.to_bits() << 1 == 0)
            & m_is_subnormal
            & (no_numerator | subnormal::magnitude_at_least(decayed, self.quiet_parameter_floor));
        // Later (tens of thousands of steps after the unit died) the second moment reaches the
        // subnormals too, and sticks there as well (`β₂·k` rounds back to `k` for small `k`).
        let v_is_subnormal = SUBNORMAL_V && is_subnormal(v);
        let (mut p_ordinary, mut m_ordinary, mut v_ordinary) = (
            // A quiet lane's parameter is `decayed`: the ordinary update only gives it the
            // second moment, from any normal parameter.
            if DECAY & quiet { 1.0 } else { p },
            if quiet { 0.0 } else { m },
            // The denominator does not matter when the numerator is 0 (`eps > 0`).
            if quiet & v_is_subnormal { 0.0 } else { v },
        );
        self.moments(&mut p_ordinary, g, &mut m_ordinary, &mut v_ordinary);
        // `v·β₂`: the gradient term is `+0`.
        let v = if SUBNORMAL_V && quiet & v_is_subnormal {
            subnormal::scale(v, self.beta2)
        } else {
            v_ordinary
        };
        let (v_max, denominator) = if AMSGRAD {
            let v_max = new_max(v_max, v);
            (v_max, if quiet { 0.0 } else { v_max })
        } else {
            (v_max, v_ordinary)
        };
        self.apply(&mut p_ordinary, m_ordinary, denominator);
        let p = if DECAY & quiet { decayed } else { p_ordinary };
        (p, if quiet { m_quiet } else { m_ordinary }, v, v_max)
    }
}

/// A lane's moments with AMSGrad: `(m, v, v̂)`.
type Moments3 = (f32, f32, f32);

/// A block for [`Scalars::quiet_lanes`]: parameters, gradients, moments `(m, v, v̂)`, and
/// which first moments are subnormal.
type QuietBlock<'a> = (
    &'a mut [f32; BLOCK],
    &'a [f32; BLOCK],
    (
        &'a mut [f32; BLOCK],
        &'a mut [f32; BLOCK],
        &'a mut [f32; BLOCK],
    ),
    &'a [bool; BLOCK],
);

/// `torch.maximum(v̂, v)`: `NaN` in `v` propagates.
#[inline(always)]
fn new_max(v_max: f32, v: f32) -> f32 {
    if v > v_max || v.is_nan() {
        v
    } else {
        v_max
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.step += 1;
        let t = self.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let (coupled_decay, decoupled_factor) = match (self.weight_decay, self.decoupled) {
            (0.0, _) => (0.0, 1.0),
            (wd, true) => (0.0, (1.0 - self.lr * wd) as f32),
            (wd, false) => (wd as f32, 1.0),
        };
        let neg_step_size = (-(self.lr / bias_correction1)) as f32;
        let eps = self.eps as f32;
        let quiet_parameter_floor = if eps > 0.0 {
            let floor =
                2.0 * f64::from(neg_step_size.abs()) * f64::powi(2.0, -101) / f64::from(eps);
            floor.max(f64::from(f32::MIN_POSITIVE)) as f32
        } else {
            f32::INFINITY
        };
        self.scalars = Scalars {
            one_minus_beta1: (1.0 - self.beta1) as f32,
            beta2: self.beta2 as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            neg_step_size,
            bias_correction2_sqrt: ScalarDivisor::new(bias_correction2.sqrt() as f32),
            eps,
            quiet_parameter_floor,
            coupled_decay,
            decoupled_factor,
        };
    }

    /// # Panics
    /// If `index` skips a parameter never seen before, if `value` and `grad` differ in length,
    /// or if parameter `index` changed length since the first step.
    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]) {
        assert_eq!(
            value.len(),
            grad.len(),
            "Adam: parameter {index} and its gradient"
        );
        debug_assert!(self.step > 0, "Adam: begin_step must come before update");
        if index == self.state.len() {
            let zeros = AlignedVec::zeros(value.len());
            self.state.push(Moments {
                exp_avg: zeros.clone(),
                max_exp_avg_sq: if self.amsgrad {
                    zeros.clone()
                } else {
                    AlignedVec::default()
                },
                exp_avg_sq: zeros,
            });
        }
        let s = self.scalars;
        let state = &mut self.state[index];
        assert_eq!(
            state.exp_avg.len(),
            value.len(),
            "Adam: parameter {index} changed length"
        );
        if self.amsgrad {
            let moments = (&mut state.exp_avg[..], &mut state.exp_avg_sq[..]);
            amsgrad_pass(&s, value, grad, moments, &mut state.max_exp_avg_sq);
        } else {
            adam_pass(&s, value, grad, &mut state.exp_avg, &mut state.exp_avg_sq);
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        check_non_negative("Adam", "learning rate", lr);
        self.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{
        assert_zero_gradient_is_a_no_op, awkward_gradients, awkward_value, check_fixture, Model,
    };
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch_bit_for_bit() {
        assert_eq!(check_fixture(&mut Adam::new(1e-3), "adam", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_weight_decay_bit_for_bit() {
        let mut adam = Adam::new(1e-3).weight_decay(0.01);
        assert_eq!(check_fixture(&mut adam, "adam_wd0p01", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_amsgrad_bit_for_bit() {
        let mut adam = Adam::new(1e-3).amsgrad(true);
        assert_eq!(check_fixture(&mut adam, "adam_amsgrad", 0.0), 0);
    }

    #[test]
    fn scalar_division_is_exact() {
        use rand::{Rng, SeedableRng};
        let check = |exact: ScalarDivisor, divisor: f32, x: f32| {
            exact.divide(x).to_bits() == (x / divisor).to_bits()
        };
        // Every significand (x in [1, 2)), and every x in the smallest binade a square root
        // reaches, against the divisors of Adam's first steps and some awkward ones. Scaling x
        // by a power of two only shifts the exponents of the quotient and the remainders.
        let mut divisors: Vec<f32> = [1u64, 2, 3, 7, 10, 100, 1000, 100_000]
            .iter()
            .flat_map(|&t| {
                [0.999f64, 0.99, 0.5, 1.0 - 1e-16]
                    .map(|beta2| (1.0 - beta2.powf(t as f64)).sqrt() as f32)
            })
            .collect();
        divisors.extend([0.75, 1.0 - f32::EPSILON / 2.0, 0.1, f32::powi(2.0, -27)]);
        let tiny = f32::from_bits(1).sqrt();
        let mut mismatches = 0u64;
        for &divisor in &divisors {
            let exact = ScalarDivisor::new(divisor);
            for bits in (1.0f32.to_bits()..2.0f32.to_bits()).chain(tiny.to_bits()..) {
                let x = f32::from_bits(bits);
                if bits > tiny.to_bits() && x >= 2.0 * tiny {
                    break;
                }
                mismatches += u64::from(!check(exact, divisor, x));
            }
        }
        // Random divisors in range, random x of any magnitude.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..1000 {
            let divisor = rng.gen_range(f32::powi(2.0, -27)..=1.0);
            let exact = ScalarDivisor::new(divisor);
            for _ in 0..10_000 {
                let x = f32::from_bits(rng.gen_range(0..f32::INFINITY.to_bits())).sqrt();
                mismatches += u64::from(!check(exact, divisor, x));
            }
        }
        assert_eq!(mismatches, 0);
        for divisor in divisors {
            let exact = ScalarDivisor::new(divisor);
            for x in [0.0, tiny, f32::MAX.sqrt(), f32::INFINITY] {
                assert!(check(exact, divisor, x), "{x:e} / {divisor:e}");
            }
            assert!(exact.divide(f32::NAN).is_nan());
        }
    }

    #[test]
    fn defaults_and_builder() {
        let adam = Adam::default();
        assert_eq!(
            (adam.lr(), adam.beta1, adam.beta2, adam.eps),
            (1e-3, 0.9, 0.999, 1e-8)
        );
        assert_eq!(
            (adam.weight_decay, adam.amsgrad, adam.decoupled),
            (0.0, false, false)
        );
        let mut adam = Adam::new(0.5).betas(0.8, 0.99).eps(1e-6).weight_decay(0.1);
        assert_eq!(
            (adam.beta1, adam.beta2, adam.eps, adam.weight_decay),
            (0.8, 0.99, 1e-6, 0.1)
        );
        adam.set_lr(0.25);
        assert_eq!(adam.lr(), 0.25);
    }

    #[test]
    #[should_panic(expected = "invalid beta2")]
    fn rejects_a_beta_of_one() {
        let _ = Adam::new(1e-3).betas(0.9, 1.0);
    }

    #[test]
    fn state_is_allocated_once() {
        let mut adam = Adam::new(1e-2).amsgrad(true);
        let mut model = Model {
            values: vec![vec![1.0; 4], vec![2.0; 3]],
            grads: vec![vec![0.5; 4], vec![-0.5; 3]],
        };
        adam.step(&mut model);
        let pointers: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
        for _ in 0..3 {
            adam.step(&mut model);
        }
        let after: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
        assert_eq!((adam.state.len(), pointers), (2, after));
        assert_eq!(adam.steps(), 4);
    }

    #[test]
    fn large_beta1_uses_the_other_lerp_branch() {
        // 1 − β₁ ≥ 0.5 interpolates from the end: still the exact lerp to rounding.
        assert_eq!(lerp(2.0, 4.0, 0.75), 3.5);
        assert_eq!(lerp(2.0, 4.0, 0.25), 2.5);
        let mut adam = Adam::new(0.1).betas(0.2, 0.5);
        let mut model = Model::one(&[1.0]);
        model.grads[0][0] = 2.0;
        adam.step(&mut model);
        assert!((model.values[0][0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn subnormal_shortcut_is_bit_exact() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let configs = [
            Adam::new(1e-3),
            Adam::new(0.5),
            Adam::new(1e-2).betas(0.5, 0.9),
            Adam::new(1e-2).betas(0.2, 0.99),
            Adam::new(1e-3).eps(0.0),
            Adam::new(1e-3).weight_decay(0.01),
            Adam::decoupled(1e-2),
            Adam::decoupled(1e-2).weight_decay(0.5),
        ];
        for (c, config) in configs.into_iter().enumerate() {
            for step in [1u64, 2, 10, 1000] {
                let (s, mut p, g, mut m, mut v) = awkward_lanes(&config, step, 1000 + c, &mut rng);
                let lanes = (&mut p[..], &g[..], &mut m[..], &mut v[..]);
                assert_pass_is_exact(&s, lanes, &format!("config {c}, step {step}"));
            }
        }
    }

    /// `config`'s scalars for step `step`, and `n` lanes of awkward parameters, gradients and
    /// moments `(p, g, m, v)` for the subnormal shortcuts.
    fn awkward_lanes(
        config: &Adam,
        step: u64,
        n: usize,
        rng: &mut impl rand::Rng,
    ) -> (Scalars, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut adam = config.clone();
        adam.step = step - 1;
        adam.begin_step();
        let p = (0..n).map(|_| awkward_value(rng)).collect();
        let g = awkward_gradients(rng, n, 0);
        let m = (0..n).map(|_| awkward_value(rng)).collect();
        let v = (0..n).map(|_| awkward_value(rng).abs()).collect();
        (adam.scalars, p, g, m, v)
    }

    /// Runs [`adam_pass`] over the lanes and checks each against [`Scalars::update`], bit for
    /// bit.
    fn assert_pass_is_exact(
        s: &Scalars,
        (p, g, m, v): (&mut [f32], &[f32], &mut [f32], &mut [f32]),
        context: &str,
    ) {
        let expected: Vec<(f32, f32, f32)> = (0..p.len())
            .map(|i| s.update(p[i], g[i], m[i], v[i]))
            .collect();
        adam_pass(s, p, g, m, v);
        for (i, &(ep, em, ev)) in expected.iter().enumerate() {
            assert_eq!(
                (p[i].to_bits(), m[i].to_bits(), v[i].to_bits()),
                (ep.to_bits(), em.to_bits(), ev.to_bits()),
                "{context}, element {i}: g {:e}",
                g[i]
            );
        }
    }

    #[test]
    fn amsgrad_subnormal_shortcut_is_bit_exact() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let configs = [
            Adam::new(1e-3).amsgrad(true),
            Adam::new(0.5).betas(0.5, 0.9).amsgrad(true),
            Adam::decoupled(1e-2).amsgrad(true),
        ];
        for (c, config) in configs.into_iter().enumerate() {
            for step in [1u64, 10, 1000] {
                let n = 1000 + c;
                let (s, mut p, g, mut m, mut v) = awkward_lanes(&config, step, n, &mut rng);
                let mut v_max: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng).abs()).collect();
                let expected: Vec<(f32, Moments3)> = (0..n)
                    .map(|i| s.update_amsgrad(p[i], g[i], (m[i], v[i], v_max[i])))
                    .collect();
                amsgrad_pass(&s, &mut p, &g, (&mut m, &mut v), &mut v_max);
                for (i, &(ep, (em, ev, emax))) in expected.iter().enumerate() {
                    let bits = |x: f32| x.to_bits();
                    assert_eq!(
                        [bits(p[i]), bits(m[i]), bits(v[i]), bits(v_max[i])],
                        [bits(ep), bits(em), bits(ev), bits(emax)],
                        "config {c}, step {step}, element {i}: g {:e}",
                        g[i]
                    );
                }
            }
        }
    }

    #[test]
    fn a_dead_unit_keeps_its_stuck_first_moment() {
        // 0.9·k rounds back to k for k ≤ 4: the moment of a unit with no gradient stays at a
        // few multiples of the smallest subnormal for ever, and the shortcut must keep it there.
        let mut adam = Adam::new(1e-2);
        adam.begin_step();
        let smallest = f32::from_bits(1);
        let mut m = vec![smallest, 4.0 * smallest, 5.0 * smallest, -3.0 * smallest];
        let (mut p, g, mut v) = (vec![0.5; 4], vec![0.0; 4], vec![1e-6; 4]);
        adam_pass(&adam.scalars, &mut p, &g, &mut m, &mut v);
        assert_eq!(
            m,
            [smallest, 4.0 * smallest, 4.0 * smallest, -3.0 * smallest]
        );
        assert_eq!(p, [0.5; 4]);
    }

    #[test]
    fn adamw_decays_a_dead_unit_into_the_subnormals_bit_for_bit() {
        // A dead unit under AdamW: stuck first moment, zero gradient, and a weight that the
        // decay takes below the shortcut's floor and then into the subnormals. Step by step,
        // the pass must give the plain formula's bits.
        let mut adam = Adam::decoupled(1e-2).weight_decay(0.5);
        let smallest = f32::from_bits(1);
        let n = 3 * BLOCK;
        let mut p: Vec<f32> = (0..n)
            .map(|i| match i % 4 {
                0 => f32::powi(2.0, -70),
                1 => -f32::powi(2.0, -100) * 1.5,
                2 => f32::MIN_POSITIVE * 1.25,
                _ => -smallest * (1000 + i) as f32,
            })
            .collect();
        let mut m: Vec<f32> = (0..n).map(|i| smallest * (i % 6 * 37) as f32).collect();
        let mut v: Vec<f32> = (0..n).map(|i| 1e-30 * (i + 1) as f32).collect();
        // A live lane in each block keeps the blocks mixed.
        let g: Vec<f32> = (0..n)
            .map(|i| if i % BLOCK == 7 { 1e-3 } else { 0.0 })
            .collect();
        for step in 1..=200 {
            adam.begin_step();
            let lanes = (&mut p[..], &g[..], &mut m[..], &mut v[..]);
            assert_pass_is_exact(&adam.scalars, lanes, &format!("step {step}"));
        }
        assert!(
            p.iter().any(|&p| is_subnormal(p)),
            "some weights end subnormal"
        );
    }

    proptest! {
        #[test]
        fn zero_gradient_changes_nothing(
            values in proptest::collection::vec(-1e3f32..1e3, 1..20),
            lr in 1e-4f64..1.0,
            beta1 in 0.0f64..0.99,
            beta2 in 0.0f64..0.9999,
            amsgrad: bool,
        ) {
            let mut adam = Adam::new(lr).betas(beta1, beta2).amsgrad(amsgrad);
            assert_zero_gradient_is_a_no_op(&mut adam, &values);
        }
    }
}
