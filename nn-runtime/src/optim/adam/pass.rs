//! The update of one parameter tensor: its per-step constants, and the pass over every
//! element, with the shortcut that keeps a dead unit's subnormal moments off the slow path.

use super::divisor::ScalarDivisor;
use crate::optim::subnormal::{self, is_subnormal};
use crate::optim::{l2_decayed, lerp};

/// The per-step constants of the update, rounded to `f32` from `f64`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Scalars {
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

impl Scalars {
    /// The constants of `adam`'s current step `t` (already counted).
    pub(super) fn for_step(adam: &super::Adam) -> Self {
        let t = adam.step as f64;
        let bias_correction1 = 1.0 - adam.beta1.powf(t);
        let bias_correction2 = 1.0 - adam.beta2.powf(t);
        let (coupled_decay, decoupled_factor) = match (adam.weight_decay, adam.decoupled) {
            (0.0, _) => (0.0, 1.0),
            (wd, true) => (0.0, (1.0 - adam.lr * wd) as f32),
            (wd, false) => (wd as f32, 1.0),
        };
        let neg_step_size = (-(adam.lr / bias_correction1)) as f32;
        let eps = adam.eps as f32;
        let quiet_parameter_floor = if eps > 0.0 {
            let floor =
                2.0 * f64::from(neg_step_size.abs()) * f64::powi(2.0, -101) / f64::from(eps);
            floor.max(f64::from(f32::MIN_POSITIVE)) as f32
        } else {
            f32::INFINITY
        };
        Scalars {
            one_minus_beta1: (1.0 - adam.beta1) as f32,
            beta2: adam.beta2 as f32,
            one_minus_beta2: (1.0 - adam.beta2) as f32,
            neg_step_size,
            bias_correction2_sqrt: ScalarDivisor::new(bias_correction2.sqrt() as f32),
            eps,
            quiet_parameter_floor,
            coupled_decay,
            decoupled_factor,
        }
    }

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
    pub(super) fn adam_pass(s: &Scalars, value: &mut [f32], grad: &[f32], exp_avg: &mut [f32], exp_avg_sq: &mut [f32]) => adam_elements;
}

crate::simd::multiversion! {
    /// The AMSGrad update of every element (as [`adam_pass`]).
    pub(super) fn amsgrad_pass(
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
pub(super) const BLOCK: usize = 16;

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
    pub(super) fn update(&self, mut p: f32, g: f32, mut m: f32, mut v: f32) -> (f32, f32, f32) {
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
    pub(super) fn update_amsgrad(
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
pub(super) type Moments3 = (f32, f32, f32);

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
