//! Arithmetic on the state of units that no longer receive gradient, without touching a
//! subnormal with floating-point arithmetic.
//!
//! A moment or momentum buffer that only decays (`x·β` with `β < 1`, each step) ends in the
//! subnormals and stays there for ever: `β·k` rounds back to `k` for small `k`. Every
//! floating-point operation with a subnormal operand or result costs a microcode assist, about
//! a hundred cycles, so such state made whole passes several times slower. The optimizers
//! detect these lanes by their bits and compute the same roundings on the integer `k` of
//! `x = k·2⁻¹⁴⁹` instead.

/// The bits of 2²³, the float whose mantissa bits count units: `TWO_23 | k` is `2²³ + k`.
pub(super) const TWO_23: u32 = 0x4b00_0000;

/// Whether `x` is subnormal: nonzero and below the smallest normal magnitude. Read from the
/// bits, because floating-point arithmetic on a subnormal is what must be avoided.
#[inline(always)]
pub(super) fn is_subnormal(x: f32) -> bool {
    // One unsigned comparison: zero wraps around to the largest value.
    (x.to_bits() & 0x7fff_ffff).wrapping_sub(1) < f32::MIN_POSITIVE.to_bits() - 1
}

/// `RN(x·factor)` for a subnormal or zero `x` and `0 ≤ factor < 1`, bit for bit, without
/// arithmetic on a subnormal: for `x = ±k·2⁻¹⁴⁹`, `fma(factor, k, 2²³)` is `2²³ + RN(factor·k)`
/// (below 2²⁴, where floats are exactly the integers, so its one rounding is the same
/// round-to-nearest-even), and subtracting the bits of 2²³ leaves the bits of
/// `RN(factor·k)·2⁻¹⁴⁹`.
#[inline(always)]
pub(super) fn scale(x: f32, factor: f32) -> f32 {
    let bits = x.to_bits();
    let k = f32::from_bits(TWO_23 | (bits & 0x007f_ffff)) - f32::from_bits(TWO_23);
    let scaled = factor.mul_add(k, f32::from_bits(TWO_23));
    f32::from_bits((bits & 0x8000_0000) | (scaled.to_bits() - TWO_23))
}

/// `RN(x·factor) + zero` for a subnormal or zero `x`, `0 ≤ factor < 1` and a signed zero
/// `zero` (what `fma(c, ±0, x·factor)` rounds to): [`scale`], whose zero, if it is one, takes
/// the sign of the sum of two zeros, `−0` only when both are.
#[inline(always)]
pub(super) fn scale_plus_zero(x: f32, factor: f32, zero: f32) -> f32 {
    let scaled = scale(x, factor);
    if scaled.to_bits() << 1 == 0 {
        f32::from_bits(scaled.to_bits() & zero.to_bits())
    } else {
        scaled
    }
}

/// Whether `|x| ≥ bound` for a non-negative `bound`, from the bits (`NaN` counts as large).
#[inline(always)]
pub(super) fn magnitude_at_least(x: f32, bound: f32) -> bool {
    x.to_bits() & 0x7fff_ffff >= bound.to_bits()
}

/// `lerp(x, 0, weight) = fma(weight, 0 − x, x)` for a subnormal `x` and
/// `0 ≤ weight < 0.5` (the branch of [`super::lerp`] that starts from `x`), bit for bit:
/// the exact `(1 − weight)·x` rounded to the subnormal grid, computed on the integer `k` as
/// `fma(weight, −k, k + 2²³)`, which lies in `[2²³, 2²⁴)` and whose mantissa bits are the new
/// `k`.
#[inline(always)]
pub(super) fn lerp_to_zero(x: f32, weight: f32) -> f32 {
    let bits = x.to_bits();
    let k_plus_2_23 = f32::from_bits(TWO_23 | (bits & 0x007f_ffff));
    let k = k_plus_2_23 - f32::from_bits(TWO_23);
    let decayed_plus_2_23 = weight.mul_add(-k, k_plus_2_23);
    f32::from_bits((bits & 0x8000_0000) | (decayed_plus_2_23.to_bits() & 0x007f_ffff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_a_subnormal_is_the_product() {
        for factor in [0.0f32, 0.5, 0.9, 0.99, 0.999, 0.3, 1.0 - f32::EPSILON / 2.0] {
            for k in (0..2000).chain((0x007f_0000..0x0080_0000).step_by(97)) {
                for sign in [0, 0x8000_0000u32] {
                    let x = f32::from_bits(sign | k);
                    assert_eq!(
                        scale(x, factor).to_bits(),
                        (x * factor).to_bits(),
                        "{x:e} · {factor}"
                    );
                }
            }
        }
        for weight in [0.0f32, 0.1, 0.01, 0.001, 0.25, 0.4999] {
            for k in (1..2000).chain((0x007f_0000..0x0080_0000).step_by(97)) {
                for sign in [0, 0x8000_0000u32] {
                    let x = f32::from_bits(sign | k);
                    assert_eq!(
                        lerp_to_zero(x, weight).to_bits(),
                        super::super::lerp(x, 0.0, weight).to_bits(),
                        "lerp({x:e}, 0, {weight})"
                    );
                }
            }
        }
        for k in 0..40u32 {
            for (a, b) in [
                (0, 0x8000_0000u32),
                (0x8000_0000, 0),
                (0, 0),
                (0x8000_0000, 0x8000_0000),
            ] {
                let (x, zero) = (f32::from_bits(a | k), f32::from_bits(b));
                assert_eq!(
                    scale_plus_zero(x, 0.3, zero).to_bits(),
                    1.0f32.mul_add(zero, x * 0.3).to_bits(),
                    "{x:e}·0.3 + {zero}"
                );
            }
        }
        assert!(magnitude_at_least(-0.5, 0.5) && !magnitude_at_least(-0.25, 0.5));
        assert!(is_subnormal(f32::from_bits(1)) && is_subnormal(-f32::from_bits(0x007f_ffff)));
        assert!(!is_subnormal(0.0) && !is_subnormal(-0.0) && !is_subnormal(f32::MIN_POSITIVE));
        assert!(!is_subnormal(f32::NAN) && !is_subnormal(f32::INFINITY));
    }
}
