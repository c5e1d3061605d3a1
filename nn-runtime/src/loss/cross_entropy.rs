//! Cross-entropy on logits, with optional label smoothing.

use super::Loss;
use crate::batch::Labels;
use crate::math;

/// Cross-entropy between the softmax of each row of logits and a class index, PyTorch's
/// `torch.nn.CrossEntropyLoss(label_smoothing=0.0)` (no class weights, no `ignore_index`,
/// `reduction='mean'`).
///
/// Loss, averaged over the rows (not the elements), for logits `x` of `C = F` classes and target
/// class `k`, with `log pᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)`, `m = maxⱼ xⱼ`:
/// `ℓ = −Σᵢ qᵢ·log pᵢ`, `q = (1 − ε)·onehot(k) + ε/C`. Without smoothing (`ε = 0`) that is
/// `−log p_k`.
///
/// Gradient with respect to the logits (needs the input only): `∂ℓ/∂x = (softmax(x) − q) / rows`.
///
/// NOTE: the log-sum-exp is shifted by the row maximum, so rows of ±1000 neither overflow nor
/// underflow to `ln 0`. The exponentials are `f32` (within one ulp, in one vector pass over
/// the batch); sums, logarithms and the normalisation are `f64`. It takes raw logits: it is
/// `LogSoftmax` followed by [`NLLLoss`](crate::NLLLoss), so do not put a softmax in front of it.
///
/// ```
/// use nn_runtime::{Batch, CrossEntropyLoss, Labels, Loss};
///
/// let logits = Batch::<3>::from_rows(&[[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0]]);
/// let labels = Labels::new(vec![2, 0], 3)?;
/// let (loss, grad) = CrossEntropyLoss::new().value_and_grad(&logits, &labels)?;
/// assert!((loss - 3f32.ln() / 2.0).abs() < 1e-6);
/// assert!((grad.row(0)[2] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-7);
/// assert_eq!(grad.row(1), &[0.0, 0.0, 0.0]);
///
/// let smoothed = CrossEntropyLoss::new().label_smoothing(0.1);
/// assert!(smoothed.value(&logits, &labels)? > loss);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropyLoss {
    label_smoothing: f64,
}

impl CrossEntropyLoss {
    /// `torch.nn.CrossEntropyLoss()`: no label smoothing.
    pub const fn new() -> Self {
        CrossEntropyLoss {
            label_smoothing: 0.0,
        }
    }

    /// Sets the label smoothing `ε`: the target becomes `(1 − ε)·onehot + ε/C`.
    ///
    /// # Panics
    /// If `epsilon` is not in `[0, 1]`, as PyTorch raises an error.
    pub fn label_smoothing(mut self, epsilon: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&epsilon),
            "CrossEntropyLoss label_smoothing must be in [0, 1], got {epsilon}"
        );
        self.label_smoothing = epsilon;
        self
    }

    /// The label smoothing `ε`.
    pub fn get_label_smoothing(&self) -> f64 {
        self.label_smoothing
    }

    /// The loss of one row from its logits `x`, its maximum `max`, and `sum_exp`, the sum of
    /// `e^(xᵢ − max)`.
    fn row_loss(&self, x: &[f32], max: f32, sum_exp: f64, label: usize) -> f64 {
        let log_sum = sum_exp.ln();
        let log_p = |x: f32| f64::from(x) - f64::from(max) - log_sum;
        let mut loss = -(1.0 - self.label_smoothing) * log_p(x[label]);
        if self.label_smoothing != 0.0 {
            let sum_log_p: f64 = x.iter().map(|&x| log_p(x)).sum();
            loss -= self.label_smoothing / x.len() as f64 * sum_log_p;
        }
        loss
    }
}

/// The largest value of a row of logits (`NaN`s ignored, as `f32::max` does).
#[inline(always)]
fn row_max(x: &[f32]) -> f32 {
    // Four running maxima rather than one: a single chain of `max` is a chain of latencies,
    // as long as the row.
    let mut max = [f32::NEG_INFINITY; 4];
    for (i, &x) in x.iter().enumerate() {
        max[i % 4] = max[i % 4].max(x);
    }
    max[0].max(max[1]).max(max[2].max(max[3]))
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        Self::new()
    }
}

impl<const F: usize> Loss<F> for CrossEntropyLoss {
    type Target = Labels;

    fn loss(&self, input: &[f32], target: &Labels) -> f32 {
        let sum: f64 = input
            .chunks_exact(F.max(1))
            .zip(target.indices())
            .map(|(x, &label)| {
                let max = row_max(x);
                let sum_exp = x.iter().map(|&x| f64::from(math::exp(x - max))).sum();
                self.row_loss(x, max, sum_exp, label)
            })
            .sum();
        (sum / target.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Labels, grad: &mut [f32]) -> f32 {
        let width = F.max(1);
        // First `x − max` for every row, then one vector pass of `exp` over all of them.
        for (x, g) in input.chunks_exact(width).zip(grad.chunks_exact_mut(width)) {
            let max = row_max(x);
            for (g, &x) in g.iter_mut().zip(x) {
                *g = x - max;
            }
        }
        math::exp_in_place(&mut grad[..input.len()]);
        let n = target.len() as f64;
        let off = self.label_smoothing / F as f64;
        let on = 1.0 - self.label_smoothing + off;
        let mut sum = 0.0;
        let rows = input.chunks_exact(width).zip(grad.chunks_exact_mut(width));
        for ((x, g), &label) in rows.zip(target.indices()) {
            let total: f64 = g.iter().map(|&e| f64::from(e)).sum();
            sum += self.row_loss(x, row_max(x), total, label);
            // Multiplications by the reciprocals: in `f64`, their extra rounding is far below
            // the `f32` result's, and a scalar division per element would cost more than the
            // rest of the loss.
            let (per_total, per_row) = (1.0 / total, 1.0 / n);
            for (c, g) in g.iter_mut().enumerate() {
                let q = if c == label { on } else { off };
                *g = ((f64::from(*g) * per_total - q) * per_row) as f32;
            }
        }
        (sum / n) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::loss::test_support::{
        assert_non_negative, check_fixture, check_gradient, label_fixture,
    };
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        check_fixture(
            &CrossEntropyLoss::new(),
            &label_fixture("cross_entropy"),
            1e-6,
        );
    }

    #[test]
    fn matches_pytorch_with_label_smoothing() {
        let loss = CrossEntropyLoss::new().label_smoothing(0.1);
        check_fixture(&loss, &label_fixture("cross_entropy_ls0p1"), 1e-6);
    }

    #[test]
    fn matches_pytorch_at_extreme_logits() {
        // Row 0 = [100, −100, 0, 50, 100] with target 1 (loss ≈ 200), row 2 = [1000, 0, 0, 0, 0].
        check_fixture(
            &CrossEntropyLoss::new(),
            &label_fixture("cross_entropy_edge"),
            1e-6,
        );
        let smoothed = CrossEntropyLoss::new().label_smoothing(0.1);
        check_fixture(&smoothed, &label_fixture("cross_entropy_ls0p1_edge"), 1e-6);
    }

    #[test]
    fn defaults_and_builder() {
        assert_eq!(CrossEntropyLoss::default(), CrossEntropyLoss::new());
        assert_eq!(CrossEntropyLoss::new().get_label_smoothing(), 0.0);
        let smoothed = CrossEntropyLoss::new().label_smoothing(0.25);
        assert_eq!(smoothed.get_label_smoothing(), 0.25);
    }

    #[test]
    #[should_panic(expected = "label_smoothing must be in [0, 1]")]
    fn rejects_smoothing_above_one() {
        let _ = CrossEntropyLoss::new().label_smoothing(1.5);
    }

    #[test]
    fn checks_the_class_count() {
        let logits = Batch::<3>::zeros(2);
        let labels = Labels::new(vec![0, 1], 2).unwrap();
        assert_eq!(
            CrossEntropyLoss::new().value(&logits, &labels),
            Err(crate::Error::ClassCount {
                expected: 3,
                found: 2
            })
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [
            0.3, -1.2, 2.0, 0.0, -0.7, 1.1, 5.0, 4.5, -3.0, 0.2, 0.1, 0.0,
        ];
        let labels = Labels::new(vec![1, 3, 0], 4).unwrap();
        for smoothing in [0.0, 0.1, 1.0] {
            let loss = CrossEntropyLoss::new().label_smoothing(smoothing);
            check_gradient::<_, 4>(&loss, &x, &labels, 1e-2);
        }
    }

    #[test]
    fn gradient_rows_sum_to_zero() {
        let x = [1e3, -1e3, 0.0, 20.0, 20.0, 20.0];
        let labels = Labels::new(vec![1, 2], 3).unwrap();
        let mut grad = [0.0; 6];
        let smoothed = CrossEntropyLoss::new().label_smoothing(0.2);
        let loss = Loss::<3>::loss_and_grad(&smoothed, &x, &labels, &mut grad);
        assert!(loss.is_finite());
        for row in grad.chunks(3) {
            assert!(row.iter().sum::<f32>().abs() < 1e-7, "{row:?}");
        }
    }

    proptest! {
        #[test]
        fn loss_is_not_negative(
            rows in proptest::collection::vec(
                (proptest::array::uniform4(-1e3f32..1e3), 0usize..4),
                1..12,
            ),
            smoothing in 0.0f64..=1.0,
        ) {
            let x: Vec<f32> = rows.iter().flat_map(|(r, _)| *r).collect();
            let labels = Labels::new(rows.iter().map(|r| r.1).collect(), 4).unwrap();
            let loss = CrossEntropyLoss::new().label_smoothing(smoothing);
            assert_non_negative::<_, 4>(&loss, &x, &labels);
        }
    }
}
