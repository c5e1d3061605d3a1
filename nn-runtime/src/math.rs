//! Elementary functions written so that loops over them become vector code.
//!
//! The standard library's `exp` is a call per element. [`exp`] here is a few multiply-adds
//! on the value itself, so a loop of it compiles to vector instructions, and [`exp_in_place`]
//! runs such a loop compiled for the best instruction set of this CPU.

/// `ln 2` to 15 bits (0x3f317200), so `n·LN2_HI` is exact for `|n| < 2⁹`.
const LN2_HI: f32 = 0.693_145_75;
/// `ln 2 − LN2_HI`.
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding 1.5·2²³ rounds a float below 2²² to an integer (to even), held in the low bits.
const ROUND: f32 = 12_582_912.0;

/// `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite: `ln 2` in two parts): `(n, r)`, for `x`
/// already clamped to a range where `n` fits a float's exponent.
#[inline(always)]
fn reduce(x: f32) -> (i32, f32) {
    let shifted = x.mul_add(std::f32::consts::LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = (-n).mul_add(LN2_HI, x);
    (
        shifted.to_bits() as i32 - ROUND.to_bits() as i32,
        (-n).mul_add(LN2_LO, r),
    )
}

/// `2ᵉ` for `e` in the normal range `[−126, 127]`, from the bits.
#[inline(always)]
fn pow2(e: i32) -> f32 {
    f32::from_bits(((e + 127) as u32) << 23)
}

/// The polynomial with these coefficients (highest degree first) at `x`, by Horner's rule in
/// fmas. The coefficients as a list: a loop computing them was left a loop, and kept the loop
/// around it from becoming vector code.
#[inline(always)]
fn horner<const N: usize>(x: f32, coefficients: [f32; N]) -> f32 {
    let mut p = coefficients[0];
    for &coefficient in &coefficients[1..] {
        p = p.mul_add(x, coefficient);
    }
    p
}

/// `eˣ` in `f32`, within one ulp of the correctly rounded result, subnormal results included;
/// `exp(+∞) = +∞`, `exp(−∞) = 0`, NaN stays NaN.
///
/// [`reduce`]d to `r`, `eʳ` from its Taylor series to degree 7 (truncation under 0.1 ulp),
/// then scaled by `2ⁿ` in two exact halves so that results below the normal range round once,
/// as subnormals.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Beyond these, eˣ is +∞ or rounds to 0; clamping keeps n in [−150, 129].
    let (n, r) = reduce(x.clamp(-104.0, 89.0));
    let p = horner(
        r,
        [
            1.0 / 5040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ],
    );
    let half = n >> 1;
    p * pow2(half) * pow2(n - half)
}

/// `eˣ − 1` in `f32`, within two ulp, accurate near 0 (where `exp(x) − 1` would cancel);
/// `+∞` gives `+∞`, `−∞` gives −1, NaN stays NaN.
///
/// [`reduce`]d as in [`exp`], `eʳ − 1` from its Taylor series to degree 8, then
/// `2ⁿ·(eʳ − 1) + (2ⁿ − 1)` in one fma: `2ⁿ − 1` is exact for `−24 ≤ n ≤ 24`, and for `n = 0`
/// the result is the series itself. From `n = 25`, `−1` is below half an ulp: the result is
/// [`exp`]. Below `x = −30` the result rounds to −1, and `x` is clamped there.
#[inline(always)]
pub(crate) fn exp_m1(x: f32) -> f32 {
    let (n, r) = reduce(x.clamp(-30.0, 30.0));
    // eʳ − 1 = r·(1 + r/2 + r²/6 + … + r⁷/8!).
    let p = r * horner(
        r,
        [
            1.0 / 40320.0,
            1.0 / 5040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
        ],
    );
    let power = pow2(n);
    let near = power.mul_add(p, power - 1.0);
    if n >= 25 {
        exp(x)
    } else if n == 0 {
        // The series alone: `fma(1, −0, +0)` would turn −0 into +0.
        p
    } else {
        near
    }
}

/// `tanh x` in `f32`, within two ulp: `−u / (u + 2)` with `u = eᵗ − 1`, `t = −2|x|`
/// ([`exp_m1`], so small `x` keep their relative accuracy), and the sign of `x` (±0 stay
/// ±0). `±∞` give ±1, NaN stays NaN.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let u = exp_m1(-2.0 * x.abs());
    (-u / (u + 2.0)).copysign(x)
}

/// `ln(1 + x)` in `f32` for `x` in `[0, 1]` (what softplus needs: `x = e⁻ᶻ`), within two ulp,
/// and `x` itself for `x` too small for the series to matter.
///
/// `ln(1 + x) = 2·atanh(s)` with `s = x/(2 + x) ≤ 1/3`: the odd series of `atanh` to `s¹⁷`
/// (truncation below 2⁻²⁶ relative). `s` is one division, so small `x` keep their relative
/// accuracy.
#[inline(always)]
pub(crate) fn ln_1p(x: f32) -> f32 {
    let s = x / (2.0 + x);
    let s2 = s * s;
    // `2s + 2s·s²·(1/3 + s²/5 + …)`, the small part added to the exact `2s` in one rounding.
    let series = horner(
        s2,
        [
            1.0 / 17.0,
            1.0 / 15.0,
            1.0 / 13.0,
            1.0 / 11.0,
            1.0 / 9.0,
            1.0 / 7.0,
            1.0 / 5.0,
            1.0 / 3.0,
        ],
    );
    let two_s = 2.0 * s;
    two_s.mul_add(s2 * series, two_s)
}

/// `ln x` in `f64` for a positive normal `x`, within a few ulp; `ln(+∞) = +∞`. Zero,
/// negative, subnormal and `NaN` inputs give meaningless finite values: callers clamp first.
///
/// `x = 2ᵉ·m` with `m ∈ [√½, √2)` (from the bits), then `ln m = 2·atanh(s)` with
/// `s = (m − 1)/(m + 1)`, `|s| < 0.1716`: the odd series of `atanh` to `s¹⁹` (truncation below
/// 2⁻⁶⁰ relative). `m − 1` is exact, so results near `x = 1` keep their relative accuracy.
#[inline(always)]
pub(crate) fn ln_f64(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = x.to_bits();
    // `i32`, not `i64`: converting 64-bit integers to floats is vector code only with
    // AVX-512DQ, which the kernels do not ask for.
    let exponent = (bits >> 52) as i32 - 1023;
    let m = f64::from_bits((bits & MANTISSA) | (1023 << 52));
    // Halving is exact: `m` in `[√½, √2)` keeps `|s|` small.
    let high = m >= std::f64::consts::SQRT_2;
    let (m, exponent) = if high {
        (m * 0.5, exponent + 1)
    } else {
        (m, exponent)
    };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // The coefficients as a list: a loop over `k` computing `1/(2k + 1)` was left a loop, and
    // kept the loop around it from becoming vector code.
    let mut series: f64 = 1.0 / 19.0;
    for coefficient in [
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
    ] {
        series = series.mul_add(s2, coefficient);
    }
    let ln_m = 2.0 * s * series.mul_add(s2, 1.0);
    let value = f64::from(exponent).mul_add(std::f64::consts::LN_2, ln_m);
    if x == f64::INFINITY {
        x
    } else {
        value
    }
}

crate::simd::multiversion! {
    /// `x ← eˣ` for every element.
    pub(crate) fn exp_in_place(values: &mut [f32]) => exp_slice;
}

#[inline(always)]
fn exp_slice(values: &mut [f32]) {
    for v in values {
        *v = exp(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite floats of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn within_one_ulp_across_the_whole_range() {
        let mut worst = (0, 0.0);
        let mut x = -104.0f32;
        while x < 89.0 {
            let expected = f64::from(x).exp() as f32;
            let error = ulps(exp(x), expected);
            if error > worst.0 {
                worst = (error, x);
            }
            // About 1.6 million points, denser near zero where results are near 1.
            x += (x.abs() * 1e-5).max(1e-6);
        }
        assert!(worst.0 <= 1, "{} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn limits_and_special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-104.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(88.72), f64::from(88.72f32).exp() as f32);
        // The smallest subnormal: e^-103.28 ≈ 2⁻¹⁴⁹.
        assert_eq!(exp(-103.27), f32::from_bits(1));
    }

    /// The largest ulp distance of `f` from the `f64` reference over `x` in `[from, to)`,
    /// about a million points, denser near zero.
    fn worst_ulps(
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
        from: f32,
        to: f32,
    ) -> (u32, f32) {
        let mut worst = (0, 0.0);
        let mut x = from;
        while x < to {
            let expected = reference(f64::from(x)) as f32;
            let got = f(x);
            let error = if got == expected {
                0
            } else if got.signum() != expected.signum() {
                u32::MAX
            } else {
                ulps(got, expected)
            };
            if error > worst.0 {
                worst = (error, x);
            }
            x += (x.abs() * 2e-5).max(1e-7);
        }
        worst
    }

    #[test]
    fn exp_m1_is_within_two_ulp() {
        let worst = worst_ulps(exp_m1, f64::exp_m1, -40.0, 89.0);
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(exp_m1(0.0), 0.0);
        assert_eq!(exp_m1(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(exp_m1(1e-30), 1e-30);
        assert_eq!(exp_m1(f32::NEG_INFINITY), -1.0);
        assert_eq!(exp_m1(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_m1(89.0), f32::INFINITY);
        assert!(exp_m1(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_is_within_two_ulp() {
        let worst = worst_ulps(tanh, f64::tanh, -20.0, 20.0);
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(tanh(0.0).to_bits(), 0);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(1e-30), 1e-30);
        assert_eq!((tanh(100.0), tanh(-100.0)), (1.0, -1.0));
        assert_eq!((tanh(f32::INFINITY), tanh(f32::NEG_INFINITY)), (1.0, -1.0));
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn ln_1p_is_within_two_ulp_on_the_unit_interval() {
        let worst = worst_ulps(ln_1p, f64::ln_1p, 0.0, 1.0);
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        assert_eq!(ln_1p(1.0), std::f32::consts::LN_2);
        assert_eq!((ln_1p(0.0), ln_1p(1e-30)), (0.0, 1e-30));
    }

    #[test]
    fn ln_f64_is_within_a_few_ulp() {
        let mut worst = (0.0f64, 0.0f64);
        let mut check = |x: f64| {
            let (ours, expected) = (ln_f64(x), x.ln());
            let error = (ours - expected).abs() / expected.abs().max(f64::MIN_POSITIVE);
            if error > worst.0 {
                worst = (error, x);
            }
        };
        // Every power of two, its neighbours and the mantissa boundary at √2 around it.
        for e in -1022..1023 {
            let power = f64::powi(2.0, e);
            let sqrt_2 = std::f64::consts::SQRT_2;
            for m in [
                1.0,
                1.0 + f64::EPSILON,
                2.0 - f64::EPSILON,
                f64::from_bits(sqrt_2.to_bits() - 1),
                sqrt_2,
            ] {
                check(power * m);
            }
        }
        // Dense near 1, where `ln` is small, and across (0, 1], where BCE reads it.
        for i in 1..200_000 {
            check(1.0 + f64::from(i) * 1e-9);
            check(1.0 - f64::from(i) * 1e-9);
            check(f64::from(i) / 200_000.0);
            check(f64::from(i as f32 * 1e-3).exp());
        }
        assert!(
            worst.0 < 1e-15,
            "relative error {:e} at x = {:e}",
            worst.0,
            worst.1
        );
        assert_eq!(ln_f64(1.0), 0.0);
        assert_eq!(ln_f64(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn the_vector_pass_agrees_with_the_scalar_function() {
        let mut values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.2 - 110.0).collect();
        let expected: Vec<f32> = values.iter().map(|&x| exp(x)).collect();
        exp_in_place(&mut values);
        assert_eq!(
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
