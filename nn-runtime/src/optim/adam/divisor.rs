//! Division by Adam's per-step divisor `√(1 − β₂ᵗ)` in multiplications, bit for bit.

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
pub(super) struct ScalarDivisor {
    divisor: f32,
    /// `RN(1/divisor)`.
    inverse: f32,
}

impl ScalarDivisor {
    pub(super) fn new(divisor: f32) -> Self {
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
    pub(super) fn divide(self, x: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
