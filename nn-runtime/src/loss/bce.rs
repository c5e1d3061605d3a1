//! Binary cross-entropy on probabilities.

use super::Loss;
use crate::activation::{Builtin, RowActivation};
use crate::batch::Batch;
use crate::math;

/// Binary cross-entropy between probabilities `p` and targets `t ∈ [0, 1]`, PyTorch's
/// `torch.nn.BCELoss()` (no weight, `reduction='mean'`).
///
/// Loss, averaged over all `N = rows × F` elements:
/// `ℓ = −(t·max(ln p, −100) + (1 − t)·max(ln(1 − p), −100))`.
///
/// Gradient with respect to `p` (needs the input only):
/// `∂ℓ/∂p = (p − t) / max((1 − p)·p, 1e-12) / N`.
///
/// NOTE: both clamps are PyTorch's. The log clamp makes `−ln 0` count as 100, so the loss of a
/// saturated wrong prediction is finite; the 1e-12 floor in the denominator makes its gradient
/// ±1e12/N rather than infinite, and exactly 0 where `p = t ∈ {0, 1}`. `ln(1 − p)` is computed
/// as `ln_1p(−p)`. Inputs must lie in `[0, 1]`: PyTorch raises an error otherwise, and here an
/// input outside it (a NaN too) makes the loss NaN, which a training step reports as
/// [`Error::NonFiniteLoss`](crate::Error::NonFiniteLoss) instead of a clamped, meaningless value.
///
/// **After a [`Sigmoid`](crate::Sigmoid)**,
/// [`loss_and_grad_through`](Loss::loss_and_grad_through) returns the gradient with respect to
/// the pre-activation `z` in closed form, `(σ(z) − t)/N`, computed as `(output − t)/N`. The
/// loss value is the same as unfused. The two differ where `σ(z)` rounds to exactly 0 or 1 in
/// `f32` (`z ≳ 16.6` or `z < −88.7`): PyTorch, which differentiates the sigmoid and the loss
/// separately, multiplies by `y·(1 − y) = 0` there and returns a zero gradient, so a
/// confidently wrong output stops learning; the fused `σ(z) − t` is the true derivative.
///
/// ```
/// use nn_runtime::{BCELoss, Batch, Loss};
///
/// let output = Batch::<2>::from_rows(&[[0.9, 0.2], [0.5, 0.0]]);
/// let target = Batch::<2>::from_rows(&[[1.0, 0.0], [1.0, 0.0]]);
/// let (loss, grad) = BCELoss::new().value_and_grad(&output, &target)?;
/// let expected = -(0.9f32.ln() + 0.8f32.ln() + 0.5f32.ln() + 1.0f32.ln()) / 4.0;
/// assert!((loss - expected).abs() < 1e-6);
/// assert!((grad.row(1)[0] - -0.5).abs() < 1e-6); // (0.5 − 1) / (0.5·0.5) / 4
/// assert_eq!(grad.row(1)[1], 0.0);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct BCELoss;

impl BCELoss {
    /// `torch.nn.BCELoss()`.
    pub const fn new() -> Self {
        BCELoss
    }
}

/// PyTorch's floor for `ln p` and `ln(1 − p)`.
const LOG_FLOOR: f64 = -100.0;
/// PyTorch's floor for `(1 − p)·p` in the gradient's denominator (`EPSILON`, as `f32`).
const GRAD_FLOOR: f32 = 1e-12;

crate::simd::multiversion! {
    /// The mean binary cross-entropy of probabilities `p` against `t`, summed in `f64`, as
    /// vector code (the logarithms are [`math::ln_f64`]).
    fn mean_bce(p: &[f32], t: &[f32]) -> f32 => mean_bce_elements;
}

/// Elements whose terms [`mean_bce`] computes at a time, into an array on the stack: a loop
/// that only stores becomes vector code, one that also adds to a sum does not (floating-point
/// sums are not reordered).
const CHUNK: usize = 64;
/// Running sums of [`mean_bce`]: one AVX-512 register of `f64`.
const SUMS: usize = 8;

#[inline(always)]
fn mean_bce_elements(p: &[f32], t: &[f32]) -> f32 {
    let mut sums = [0.0f64; SUMS];
    for (p, t) in p.chunks(CHUNK).zip(t.chunks(CHUNK)) {
        let mut terms = [0.0f64; CHUNK];
        for ((term, &p), &t) in terms.iter_mut().zip(p).zip(t) {
            *term = bce_term(p, t);
        }
        for (k, &term) in terms.iter().enumerate() {
            sums[k % SUMS] += term;
        }
    }
    (sums.iter().sum::<f64>() / p.len() as f64) as f32
}

/// Below this, `ln(1 − p)` is `−p − p²/2` to 2⁻⁵⁸ relative; above, `1 − p` is exact in `f64`
/// (`p` has 24 significant bits), and so is its logarithm's argument.
const SERIES_BELOW: f64 = 1.0 / (1u64 << 29) as f64;

/// One element's `(t − 1)·max(ln(1 − p), −100) − t·max(ln p, −100)`, in `f64`.
#[inline(always)]
fn bce_term(p: f32, t: f32) -> f64 {
    let (p, t) = (f64::from(p), f64::from(t));
    // `ln` of at least 1e-44, whose logarithm is below the floor anyway: `ln_f64` wants a
    // positive normal number. A `NaN` logarithm becomes the floor, as `f64::max` makes it.
    let clamped_ln = |x: f64| math::ln_f64(x.max(1e-44)).max(LOG_FLOOR);
    let series = -p - 0.5 * p * p;
    let log_1mp = if p.abs() < SERIES_BELOW {
        series
    } else {
        clamped_ln(1.0 - p)
    };
    // A hard label multiplies one of the two logarithms by zero: that term is zero (for `p`
    // in `[0, 1]` the clamped logarithm is finite).
    let log_1mp = if t == 1.0 { 0.0 } else { log_1mp };
    let log_p = if t == 0.0 { 0.0 } else { clamped_ln(p) };
    let term = (t - 1.0) * log_1mp - t * log_p;
    // A probability outside [0, 1], or NaN, has no loss: PyTorch raises an error, the clamps
    // above would hide it.
    if (0.0..=1.0).contains(&p) {
        term
    } else {
        f64::NAN
    }
}

impl<const F: usize> Loss<F> for BCELoss {
    type Target = Batch<F>;

    fn loss(&self, input: &[f32], target: &Batch<F>) -> f32 {
        mean_bce(input, target.as_slice())
    }

    fn loss_and_grad(&self, input: &[f32], target: &Batch<F>, grad: &mut [f32]) -> f32 {
        let n = input.len() as f32;
        for ((g, &p), &t) in grad.iter_mut().zip(input).zip(target.as_slice()) {
            *g = (p - t) / ((1.0 - p) * p).max(GRAD_FLOOR) / n;
        }
        mean_bce(input, target.as_slice())
    }

    fn loss_and_grad_through<A: RowActivation>(
        &self,
        activation: &A,
        pre_activation: &[f32],
        output: &[f32],
        target: &Batch<F>,
        grad: &mut [f32],
    ) -> f32 {
        if A::BUILTIN != Builtin::Sigmoid {
            // The trait's default: the loss gradient, then the activation's derivative.
            let loss = Loss::<F>::loss_and_grad(self, output, target, grad);
            activation.backward_rows(pre_activation, output, grad, F);
            return loss;
        }
        // output = σ(pre_activation): ∂ℓ/∂z = (σ(z) − t)/N.
        let n = output.len() as f32;
        for ((g, &y), &t) in grad.iter_mut().zip(output).zip(target.as_slice()) {
            *g = (y - t) / n;
        }
        mean_bce(output, target.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Identity, ReLU, Sigmoid};
    use crate::loss::test_support::{
        assert_non_negative, batch, check_fixture, check_gradient, float_fixture,
    };
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        check_fixture(&BCELoss::new(), &float_fixture("bce"), 1e-6);
    }

    #[test]
    fn an_input_outside_zero_to_one_makes_the_loss_nan() {
        let t = batch::<3>(&[0.0, 1.0, 0.5, 1.0, 0.0, 0.5]);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.5, 1.5] {
            for at in 0..6 {
                let mut p = [0.2, 0.7, 0.5, 0.9, 0.1, 0.4];
                p[at] = bad;
                let mut grad = [0.0; 6];
                assert!(BCELoss::new().loss(&p, &t).is_nan(), "{bad} at {at}");
                assert!(BCELoss::new().loss_and_grad(&p, &t, &mut grad).is_nan());
            }
        }
    }

    #[test]
    fn matches_pytorch_at_the_clamps() {
        // Gradients of ±6.25e9 next to exact zeros: relative comparison only.
        check_fixture(&BCELoss::new(), &float_fixture("bce_edge"), 0.0);
    }

    #[test]
    fn the_vector_loss_agrees_with_the_standard_logarithms() {
        // Tiny `p` (where `ln(1 − p)` takes the series), `p` near 1, hard and soft labels, and
        // lengths that leave a tail after the running sums.
        let mut p: Vec<f32> = (0..40).map(|i| f32::powi(2.0, -i * 3)).collect();
        p.extend((1..200).map(|i| i as f32 / 200.0));
        p.extend((0..20).map(|i| 1.0 - f32::EPSILON * (i as f32 + 0.5)));
        p.extend([0.0, 1.0, f32::from_bits(1), f32::MIN_POSITIVE]);
        for (labels, soft) in [(0u32, false), (1, false), (2, true)] {
            let t: Vec<f32> = (0..p.len())
                .map(|i| match (soft, i % 2 == labels as usize % 2) {
                    (true, _) => (i % 7) as f32 / 6.0,
                    (false, hit) => f32::from(u8::from(hit)),
                })
                .collect();
            for len in [p.len(), p.len() - 3, 5] {
                let (p, t) = (&p[..len], &t[..len]);
                let sum: f64 = p
                    .iter()
                    .zip(t)
                    .map(|(&p, &t)| {
                        let (p64, t64) = (f64::from(p), f64::from(t));
                        let log_1mp = (-p64).ln_1p().max(LOG_FLOOR);
                        let log_p = p64.ln().max(LOG_FLOOR);
                        let term = (t64 - 1.0) * if t == 1.0 { 0.0 } else { log_1mp }
                            - t64 * if t == 0.0 { 0.0 } else { log_p };
                        let ours = bce_term(p, t);
                        assert!(
                            (ours - term).abs() <= term.abs() * 1e-14,
                            "p {p:e}, t {t}: {ours:e} against {term:e}"
                        );
                        term
                    })
                    .sum();
                let expected = (sum / len as f64) as f32;
                let ours = mean_bce(p, t);
                assert!(
                    (ours - expected).abs() <= expected.abs() * 1e-6,
                    "labels {labels}, {len} elements: {ours:e} against {expected:e}"
                );
            }
        }
    }

    #[test]
    fn clamps_saturated_predictions() {
        let p = [0.0, 1.0, 0.0, 1.0];
        let t = batch::<4>(&[1.0, 0.0, 0.0, 1.0]);
        let mut grad = [0.0; 4];
        let loss = BCELoss::new().loss_and_grad(&p, &t, &mut grad);
        assert_eq!(loss, 50.0); // (100 + 100 + 0 + 0) / 4
        assert_eq!(grad, [-2.5e11, 2.5e11, 0.0, 0.0]); // ±1e12 / 4
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Probabilities in [0.15, 0.85], more than h from 0 and 1; soft targets too.
        let p = [0.3, 0.7, 0.15, 0.85, 0.5, 0.42, 0.61, 0.2];
        let t = batch::<4>(&[1.0, 0.0, 0.0, 1.0, 0.25, 0.5, 1.0, 0.9]);
        check_gradient::<_, 4>(&BCELoss::new(), &p, &t, 1e-3);
    }

    /// Sigmoid outputs and an unfused gradient through the sigmoid's own derivative.
    fn unfused(z: &[f32], t: &Batch<3>) -> (Vec<f32>, f32, Vec<f32>) {
        let mut y = vec![0.0; z.len()];
        Sigmoid.forward_rows(z, &mut y, 3);
        let mut grad = vec![0.0; z.len()];
        let loss = BCELoss::new().loss_and_grad(&y, t, &mut grad);
        Sigmoid.backward_rows(z, &y, &mut grad, 3);
        (y, loss, grad)
    }

    #[test]
    fn fused_sigmoid_agrees_with_the_chain_rule() {
        // Not saturated: σ(z) is strictly inside (0, 1) in f32.
        let z = [-8.0, -3.5, -1.0, -0.1, 0.0, 0.3, 1.7, 4.2, 8.0];
        let t = batch::<3>(&[0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.2, 1.0]);
        let (y, loss, expected) = unfused(&z, &t);
        let mut grad = vec![f32::NAN; z.len()];
        let fused = BCELoss::new().loss_and_grad_through(&Sigmoid, &z, &y, &t, &mut grad);
        assert_eq!(fused.to_bits(), loss.to_bits());
        crate::testing::assert_close("fused grad", &grad, &expected, 1e-8, 1e-5);
    }

    #[test]
    fn fused_sigmoid_keeps_learning_when_saturated() {
        // σ(20) rounds to 1 and σ(−100) to 0 in f32: the chain rule multiplies by y(1 − y) = 0.
        let z = [20.0, -100.0, 0.0];
        let t = batch::<3>(&[0.0, 1.0, 1.0]);
        let (y, loss, separate) = unfused(&z, &t);
        assert_eq!(y[..2], [1.0, 0.0]);
        assert_eq!(separate[..2], [0.0, 0.0]);
        let mut grad = [0.0; 3];
        let fused = BCELoss::new().loss_and_grad_through(&Sigmoid, &z, &y, &t, &mut grad);
        assert_eq!(fused, loss);
        assert_eq!(grad, [1.0 / 3.0, -1.0 / 3.0, -0.5 / 3.0]);
    }

    #[test]
    fn other_activations_use_the_chain_rule() {
        let pre = [0.2, -0.4, 0.9];
        let t = batch::<3>(&[1.0, 0.0, 1.0]);
        let mut y = [0.0; 3];
        ReLU.forward_rows(&pre, &mut y, 3);
        let mut expected = [0.0; 3];
        BCELoss::new().loss_and_grad(&y, &t, &mut expected);
        ReLU.backward_rows(&pre, &y, &mut expected, 3);
        let mut grad = [f32::NAN; 3];
        BCELoss::new().loss_and_grad_through(&ReLU, &pre, &y, &t, &mut grad);
        assert_eq!(grad, expected);
        assert_eq!(grad[1], 0.0);
        BCELoss::new().loss_and_grad_through(&Identity, &y, &y, &t, &mut grad);
        BCELoss::new().loss_and_grad(&y, &t, &mut expected);
        assert_eq!(grad, expected);
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            values in proptest::collection::vec((0.0f32..=1.0, 0.0f32..=1.0), 1..40),
        ) {
            let (p, t): (Vec<f32>, Vec<f32>) = values.into_iter().unzip();
            assert_non_negative::<_, 1>(&BCELoss::new(), &p, &batch::<1>(&t));
        }
    }
}
