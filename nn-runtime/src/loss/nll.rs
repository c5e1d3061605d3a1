//! Negative log-likelihood of log-probabilities.

use super::Loss;
use crate::activation::{Builtin, RowActivation};
use crate::batch::Labels;

/// Negative log-likelihood of a class given log-probabilities, PyTorch's `torch.nn.NLLLoss()`
/// (no class weights, no `ignore_index`, `reduction='mean'`).
///
/// Loss, averaged over the rows, for log-probabilities `x` (usually a
/// [`LogSoftmax`](crate::LogSoftmax) output) and target class `k`: `ℓ = −x_k`.
///
/// Gradient with respect to `x` (reads neither the input nor the output):
/// `∂ℓ/∂x = −onehot(k) / rows`.
///
/// **After a [`LogSoftmax`](crate::LogSoftmax)**,
/// [`loss_and_grad_through`](Loss::loss_and_grad_through) returns the gradient with respect to
/// the logits in closed form, `(softmax(z) − onehot(k)) / rows`, computed as
/// `(e^output − onehot) / rows`: that is cross-entropy's gradient, without the log-softmax's
/// row sums. The loss value is the same as unfused.
///
/// NOTE: the loss is not bounded below for arbitrary inputs; it is non-negative for
/// log-probabilities.
///
/// ```
/// use nn_runtime::{Batch, Labels, Loss, NLLLoss};
///
/// let log_probs = Batch::<2>::from_rows(&[[-0.5, -1.0], [-2.0, -0.25]]);
/// let labels = Labels::new(vec![1, 1], 2)?;
/// let (loss, grad) = NLLLoss::new().value_and_grad(&log_probs, &labels)?;
/// assert_eq!(loss, 0.625); // (1 + 0.25) / 2
/// assert_eq!(grad.to_vec(), vec![0.0, -0.5, 0.0, -0.5]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct NLLLoss;

impl NLLLoss {
    /// `torch.nn.NLLLoss()`.
    pub const fn new() -> Self {
        NLLLoss
    }
}

impl<const F: usize> Loss<F> for NLLLoss {
    type Target = Labels;

    fn loss(&self, input: &[f32], target: &Labels) -> f32 {
        let sum: f64 = input
            .chunks_exact(F.max(1))
            .zip(target.indices())
            .map(|(x, &label)| -f64::from(x[label]))
            .sum();
        (sum / target.len() as f64) as f32
    }

    fn loss_and_grad(&self, input: &[f32], target: &Labels, grad: &mut [f32]) -> f32 {
        let step = (1.0 / target.len() as f64) as f32;
        grad.fill(0.0);
        for (g, &label) in grad.chunks_exact_mut(F.max(1)).zip(target.indices()) {
            g[label] = -step;
        }
        Loss::<F>::loss(self, input, target)
    }

    fn loss_and_grad_through<A: RowActivation>(
        &self,
        activation: &A,
        pre_activation: &[f32],
        output: &[f32],
        target: &Labels,
        grad: &mut [f32],
    ) -> f32 {
        if A::BUILTIN != Builtin::LogSoftmax {
            // The trait's default: the loss gradient, then the activation's derivative.
            let loss = Loss::<F>::loss_and_grad(self, output, target, grad);
            activation.backward_rows(pre_activation, output, grad, F);
            return loss;
        }
        // output = log_softmax(pre_activation): ∂ℓ/∂z = (softmax(z) − onehot) / rows.
        let n = target.len() as f32;
        let rows = output
            .chunks_exact(F.max(1))
            .zip(grad.chunks_exact_mut(F.max(1)));
        for ((y, g), &label) in rows.zip(target.indices()) {
            for (c, (g, &y)) in g.iter_mut().zip(y).enumerate() {
                let onehot = if c == label { 1.0 } else { 0.0 };
                *g = (y.exp() - onehot) / n;
            }
        }
        Loss::<F>::loss(self, output, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Identity, LogSoftmax};
    use crate::loss::test_support::{
        assert_non_negative, check_fixture, check_gradient, label_fixture,
    };
    use crate::loss::CrossEntropyLoss;
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch() {
        check_fixture(&NLLLoss::new(), &label_fixture("nll"), 1e-6);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Linear in the input: any point and step will do.
        let x = [-0.3, -1.2, -2.0, -0.1, -0.7, -1.1];
        let labels = Labels::new(vec![2, 0], 3).unwrap();
        check_gradient::<_, 3>(&NLLLoss::new(), &x, &labels, 1e-2);
    }

    /// Log-softmax outputs of `z`, and the unfused gradient through LogSoftmax's backward.
    fn unfused(z: &[f32], labels: &Labels) -> (Vec<f32>, f32, Vec<f32>) {
        let mut y = vec![0.0; z.len()];
        LogSoftmax.forward_rows(z, &mut y, 4);
        let mut grad = vec![0.0; z.len()];
        let loss = Loss::<4>::loss_and_grad(&NLLLoss::new(), &y, labels, &mut grad);
        LogSoftmax.backward_rows(z, &y, &mut grad, 4);
        (y, loss, grad)
    }

    #[test]
    fn fused_log_softmax_agrees_with_the_chain_rule() {
        let z = [
            0.3, -1.2, 2.0, 0.0, -0.7, 1.1, 5.0, 4.5, -3.0, 0.2, 0.1, 0.0,
        ];
        let labels = Labels::new(vec![1, 3, 0], 4).unwrap();
        let (y, loss, expected) = unfused(&z, &labels);
        let mut grad = vec![f32::NAN; z.len()];
        let fused = Loss::<4>::loss_and_grad_through(
            &NLLLoss::new(),
            &LogSoftmax,
            &z,
            &y,
            &labels,
            &mut grad,
        );
        assert_eq!(fused.to_bits(), loss.to_bits());
        crate::testing::assert_close("fused grad", &grad, &expected, 1e-8, 1e-5);
        // …and it is cross-entropy on the logits.
        let mut ce = vec![0.0; z.len()];
        let ce_loss = Loss::<4>::loss_and_grad(&CrossEntropyLoss::new(), &z, &labels, &mut ce);
        crate::testing::assert_close("loss", &[fused], &[ce_loss], 0.0, 1e-6);
        crate::testing::assert_close("against cross-entropy", &grad, &ce, 1e-8, 1e-5);
    }

    #[test]
    fn other_activations_use_the_chain_rule() {
        let x = [-0.3, -1.2, -2.0, -0.1];
        let labels = Labels::new(vec![2], 4).unwrap();
        let mut grad = [f32::NAN; 4];
        let loss =
            Loss::<4>::loss_and_grad_through(&NLLLoss, &Identity, &x, &x, &labels, &mut grad);
        assert_eq!(loss, 2.0);
        assert_eq!(grad, [0.0, 0.0, -1.0, 0.0]);
    }

    proptest! {
        #[test]
        fn loss_of_log_probabilities_is_not_negative(
            rows in proptest::collection::vec(
                (proptest::array::uniform4(-1e3f32..1e3), 0usize..4),
                1..12,
            ),
        ) {
            let z: Vec<f32> = rows.iter().flat_map(|(r, _)| *r).collect();
            let mut y = vec![0.0; z.len()];
            LogSoftmax.forward_rows(&z, &mut y, 4);
            let labels = Labels::new(rows.iter().map(|r| r.1).collect(), 4).unwrap();
            assert_non_negative::<_, 4>(&NLLLoss::new(), &y, &labels);
        }
    }
}
