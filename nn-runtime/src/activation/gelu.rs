//! GELU, exact (with an `erfc` of its own, evaluated in `f64`) or with the tanh approximation.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

use super::Activation;
use crate::error::Result;
use crate::onnx::{Attribute, OnnxGraph};

/// Gaussian error linear unit, PyTorch's `torch.nn.GELU(approximate='none')` (the default) or
/// `torch.nn.GELU(approximate='tanh')`.
///
/// * [`GELU::new`] (and [`Default`]): `y = x·Φ(x) = 0.5·x·(1 + erf(x/√2))`, Φ the standard normal
///   CDF. Derivative from the input: `Φ(x) + x·φ(x)`, `φ(x) = e^(−x²/2)/√(2π)`.
///   NOTE: Rust's `std` has no `erf`; this module evaluates `Φ(x) = erfc(−x/√2)/2` in `f64`
///   (a positive-term power series below 2, a continued fraction above, relative error below
///   3e-13) and rounds the result to `f32` once.
/// * [`GELU::tanh`]: `y = 0.5·x·(1 + tanh u)`, `u = √(2/π)·(x + 0.044715·x³)`. Derivative from
///   the input: `0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)`. Computed
///   in `f32` in PyTorch's order, so, as in PyTorch, output and derivative are exactly 0 once
///   `tanh u` rounds to −1 (x ≲ −5.06).
///
/// ```
/// use nn_runtime::{Activation, GELU};
/// let exact = GELU::new();
/// assert!((exact.forward(1.0) - 0.841_344_7).abs() < 1e-6);
/// assert_eq!(exact.derivative(0.0, 0.0), 0.5);
/// let approx = GELU::tanh();
/// assert!((approx.forward(1.0) - 0.841_192).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct GELU {
    /// `false`: the exact form with `erf` (PyTorch's `approximate='none'`, the default);
    /// `true`: the tanh approximation (`approximate='tanh'`).
    pub approximate: bool,
}

impl GELU {
    /// The exact form, `0.5·x·(1 + erf(x/√2))`: PyTorch's `GELU()`.
    pub const fn new() -> Self {
        Self { approximate: false }
    }

    /// The tanh approximation: PyTorch's `GELU(approximate='tanh')`.
    pub const fn tanh() -> Self {
        Self { approximate: true }
    }
}

/// `√(2/π)`, PyTorch's `kBeta`.
const SQRT_2_OVER_PI: f32 = (FRAC_2_SQRT_PI * FRAC_1_SQRT_2) as f32;
/// The cubic coefficient of the tanh approximation, PyTorch's `kKappa`.
const KAPPA: f32 = 0.044_715;
/// `1/√(2π)`, the normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.5 * FRAC_2_SQRT_PI * FRAC_1_SQRT_2;

impl Activation for GELU {
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> Result<String> {
        let approximate = if self.approximate { "tanh" } else { "none" };
        Ok(graph.node(
            "Gelu",
            &[x],
            &[Attribute::string("approximate", approximate)],
        ))
    }

    #[inline(always)]
    fn forward(&self, x: f32) -> f32 {
        if self.approximate {
            let inner = SQRT_2_OVER_PI * (x + KAPPA * (x * x * x));
            0.5 * x * (1.0 + crate::math::tanh(inner))
        } else {
            let x = f64::from(x);
            (x * normal_cdf(x)) as f32
        }
    }

    #[inline(always)]
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if self.approximate {
            let x_sq = x * x;
            let inner = SQRT_2_OVER_PI * (x + KAPPA * (x_sq * x));
            let t = crate::math::tanh(inner);
            let sech_sq = 1.0 - t * t;
            // Once tanh saturates, the second term is 0 (and not 0·∞ for |x| ≳ 1e19).
            let second = if sech_sq == 0.0 {
                0.0
            } else {
                0.5 * x * sech_sq * SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x_sq)
            };
            0.5 * (1.0 + t) + second
        } else {
            let x = f64::from(x);
            let density = FRAC_1_SQRT_2PI * (-0.5 * x * x).exp();
            (normal_cdf(x) + x * density) as f32
        }
    }
}

/// `Φ(x)`, the standard normal CDF, as `erfc(−x/√2)/2`: accurate relative to its value on both
/// tails.
fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

/// Below this `erfc` comes from the power series of `erf`, above from the continued fraction.
/// At 2, `1 − erf` has lost only a factor 200 (`erfc(2) ≈ 4.7e-3`): relative error below 2e-13.
const SERIES_LIMIT: f64 = 2.0;
/// Depth of the continued fraction: from `z = 2` on its truncation error is below 1e-14
/// relative, and it shrinks as `z` grows.
const FRACTION_DEPTH: u32 = 50;

/// The complementary error function `erfc(z) = 1 − erf(z)`, in `f64`: relative error below
/// 3e-13 wherever the result is a normal `f64` (measured against 40-digit references; for
/// `z ≳ 6` the rounding of `z²` inside `e^(−z²)` dominates, about `2z²·1.1e-16`).
fn erfc(z: f64) -> f64 {
    if z.is_nan() {
        z
    } else if z < 0.0 {
        2.0 - erfc(-z)
    } else if z < SERIES_LIMIT {
        1.0 - erf_series(z)
    } else {
        erfc_continued_fraction(z)
    }
}

/// `erf(z)` for `0 ≤ z < SERIES_LIMIT`, from
/// `erf z = (2/√π)·e^(−z²)·Σₙ z·(2z²)ⁿ / (1·3·5···(2n + 1))`.
///
/// Every term is positive, so nothing cancels; the terms shrink geometrically once
/// `2n + 1 > 2z²`, and at most 32 are needed below 2.
fn erf_series(z: f64) -> f64 {
    let two_z_sq = 2.0 * z * z;
    let mut term = z;
    let mut sum = z;
    let mut odd = 1.0;
    while term > sum * 1e-17 {
        odd += 2.0;
        term *= two_z_sq / odd;
        sum += term;
    }
    FRAC_2_SQRT_PI * (-z * z).exp() * sum
}

/// `erfc(z)` for `z ≥ SERIES_LIMIT`, from the continued fraction
/// `erfc z = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ⋯)))))`,
/// evaluated from the bottom up.
fn erfc_continued_fraction(z: f64) -> f64 {
    let mut denominator = z;
    for k in (1..=FRACTION_DEPTH).rev() {
        denominator = z + 0.5 * f64::from(k) / denominator;
    }
    0.5 * FRAC_2_SQRT_PI * (-z * z).exp() / denominator
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::test_support::{
        check_against_fixture, check_derivative_by_finite_differences, check_finite_at_extremes,
    };

    #[test]
    fn matches_pytorch() {
        check_against_fixture(&GELU::new(), "gelu");
        check_against_fixture(&GELU::tanh(), "gelu_tanh");
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let points = [-6.0, -3.0, -1.2, -0.4, 0.0, 0.3, 1.0, 2.5, 5.0];
        check_derivative_by_finite_differences(&GELU::new(), &points);
        check_derivative_by_finite_differences(&GELU::tanh(), &points);
    }

    #[test]
    fn erfc_matches_reference_values() {
        // Reference values from mpmath at 40 digits, rounded to f64.
        let cases = [
            (-3.0, 1.999_977_909_503_001_5),
            (-0.5, 1.520_499_877_813_046_5),
            (0.0, 1.0),
            (1e-3, 0.998_871_621_209_030_7),
            (0.1, 0.887_537_083_981_715_2),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (1.9999, 0.004_679_802_092_970_609),
            (2.0, 0.004_677_734_981_047_266),
            (2.4999, 0.000_407_169_900_333_450_94),
            (2.5, 0.000_406_952_017_444_958_9),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
            (10.0, 2.088_487_583_762_545e-45),
            (26.0, 5.663_192_408_856_143e-296),
        ];
        for (z, expected) in cases {
            let got = erfc(z);
            assert!(
                (got - expected).abs() <= 3e-13 * expected,
                "erfc({z}) = {got:e}, expected {expected:e}"
            );
        }
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
        assert!(erfc(f64::NAN).is_nan());
        // Φ on both tails, relative to its value.
        assert!((normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((normal_cdf(-3.0) / 0.001_349_898_031_630_094_6 - 1.0).abs() < 1e-13);
    }

    #[test]
    fn kink_free_centre_and_extremes() {
        for act in [GELU::new(), GELU::tanh()] {
            assert_eq!(act.forward(0.0), 0.0);
            assert_eq!(act.derivative(0.0, 0.0), 0.5);
            assert_eq!(act.forward(1000.0), 1000.0);
            assert_eq!(act.derivative(1000.0, 1000.0), 1.0);
            assert_eq!(act.forward(-1000.0), 0.0);
            assert_eq!(act.derivative(-1000.0, 0.0), 0.0);
            assert_eq!(act.derivative(-1e30, 0.0), 0.0);
            assert_eq!(act.derivative(1e30, 1e30), 1.0);
            check_finite_at_extremes(&act);
        }
        // The tanh form saturates to exactly 0 once tanh u rounds to −1, as in PyTorch.
        assert_eq!(GELU::tanh().forward(-5.5), 0.0);
        assert_eq!(GELU::tanh().derivative(-5.5, 0.0), 0.0);
        // The exact form keeps the tail: −6·Φ(−6) ≈ −5.9195e-9.
        assert!((GELU::new().forward(-6.0) / -5.919_525_9e-9 - 1.0).abs() < 1e-6);
        assert_eq!(GELU::default(), GELU::new());
    }
}
