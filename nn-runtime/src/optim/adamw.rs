//! AdamW: Adam with decoupled weight decay.

use super::adam::Adam;
use super::{Optimizer, OptimizerState};
use crate::error::Result;

/// AdamW (Loshchilov & Hutter, 2019), PyTorch's `torch.optim.AdamW(params, lr,
/// betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False)`.
///
/// Update for step `t`: first the decoupled decay `p ← p·(1 − lr·wd)`, then exactly the
/// [`Adam`] update with the raw gradient (no L2 term added to it):
///
/// ```text
/// p ← p·(1 − lr·wd)
/// m ← m + (1 − β₁)·(g − m)
/// v ← β₂·v + (1 − β₂)·g²
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)
/// ```
///
/// NOTE: `1 − lr·wd` is computed in `f64` and rounded to `f32` once, then multiplies the
/// parameter (no fma), as PyTorch's `param.mul_(1 - lr * weight_decay)`; the rest follows
/// Adam's operation order, so results are bit-exact with PyTorch's CPU implementation. The
/// default weight decay is 0.01, not Adam's 0.
///
/// ```
/// use nn_runtime::{AdamW, Optimizer};
///
/// let mut adamw = AdamW::new(0.1).weight_decay(0.5);
/// let mut weights = vec![2.0_f32];
/// adamw.begin_step();
/// adamw.update(0, &mut weights, &[0.0]);
/// // A zero gradient still shrinks the weight by 1 − lr·wd = 0.95.
/// assert_eq!(weights[0], 1.9);
/// ```
#[derive(Debug, Clone)]
pub struct AdamW {
    inner: Adam,
}

impl AdamW {
    /// `torch.optim.AdamW(params, lr=lr)`: betas (0.9, 0.999), eps 1e-8, weight decay 0.01,
    /// no amsgrad.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    pub fn new(lr: f64) -> Self {
        AdamW {
            inner: Adam::decoupled(lr),
        }
    }

    /// Sets the decay rates `(β₁, β₂)` of the two moment averages.
    ///
    /// # Panics
    /// Unless both are in `[0, 1)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        AdamW {
            inner: self.inner.betas(beta1, beta2),
        }
    }

    /// Sets `eps`, added to the denominator (outside the square root).
    ///
    /// # Panics
    /// If `eps` is negative or NaN.
    pub fn eps(self, eps: f64) -> Self {
        AdamW {
            inner: self.inner.eps(eps),
        }
    }

    /// Sets the decoupled weight decay `wd`: each step multiplies the parameters by
    /// `1 − lr·wd`.
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        AdamW {
            inner: self.inner.weight_decay(weight_decay),
        }
    }

    /// Enables AMSGrad: the denominator uses the running maximum of `v`.
    ///
    /// # Panics
    /// If called with a different value after the first step.
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        AdamW {
            inner: self.inner.amsgrad(amsgrad),
        }
    }

    /// The number of steps taken, PyTorch's `state['step']`.
    pub fn steps(&self) -> u64 {
        self.inner.steps()
    }
}

impl Default for AdamW {
    /// PyTorch's default learning rate, 1e-3.
    fn default() -> Self {
        AdamW::new(1e-3)
    }
}

impl Optimizer for AdamW {
    fn begin_step(&mut self) {
        self.inner.begin_step();
    }

    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]) {
        self.inner.update(index, value, grad);
    }

    fn lr(&self) -> f64 {
        self.inner.lr()
    }

    fn set_lr(&mut self, lr: f64) {
        self.inner.set_lr(lr);
    }

    fn state(&self) -> Option<OptimizerState> {
        self.inner.state()
    }

    fn restore_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.inner.restore_state(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{assert_zero_gradient_is_a_no_op, check_fixture, Model};
    use proptest::prelude::*;

    #[test]
    fn a_restored_state_takes_the_next_step_bit_for_bit() {
        crate::optim::test_support::assert_state_resumes(|| AdamW::new(0.01));
        crate::optim::test_support::assert_state_resumes(|| Adam::new(0.01).amsgrad(true));
        crate::optim::test_support::assert_state_resumes(|| Adam::new(0.01).weight_decay(0.1));
    }

    #[test]
    fn matches_pytorch_bit_for_bit() {
        let mut adamw = AdamW::new(1e-3).weight_decay(0.01);
        assert_eq!(check_fixture(&mut adamw, "adamw_wd0p01", 0.0), 0);
    }

    #[test]
    fn default_weight_decay_is_0p01() {
        // Same fixture, relying on the default.
        assert_eq!(check_fixture(&mut AdamW::new(1e-3), "adamw_wd0p01", 0.0), 0);
        assert_eq!(AdamW::default().lr(), 1e-3);
    }

    #[test]
    fn without_weight_decay_it_is_adam() {
        let mut adamw = AdamW::new(1e-2)
            .weight_decay(0.0)
            .betas(0.8, 0.99)
            .eps(1e-6);
        let mut adam = Adam::new(1e-2).betas(0.8, 0.99).eps(1e-6);
        let mut a = Model::one(&[1.0, -2.0, 0.5]);
        let mut b = Model::one(&[1.0, -2.0, 0.5]);
        for step in 0..4 {
            let grad = [0.3 * step as f32, -1.0, 2.0];
            a.grads[0].copy_from_slice(&grad);
            b.grads[0].copy_from_slice(&grad);
            adamw.step(&mut a);
            adam.step(&mut b);
        }
        assert_eq!(a.values, b.values);
        assert_eq!(adamw.steps(), 4);
    }

    #[test]
    fn learning_rate_changes_apply_to_the_decay() {
        let mut adamw = AdamW::new(0.1).weight_decay(0.5).amsgrad(true);
        adamw.set_lr(0.2);
        assert_eq!(adamw.lr(), 0.2);
        let mut model = Model::one(&[1.0]);
        adamw.step(&mut model);
        assert_eq!(model.values[0][0], 0.9); // 1·(1 − 0.2·0.5), zero gradient
    }

    proptest! {
        #[test]
        fn zero_gradient_changes_nothing(
            values in proptest::collection::vec(-1e3f32..1e3, 1..20),
            lr in 1e-4f64..1.0,
            amsgrad: bool,
        ) {
            let mut adamw = AdamW::new(lr).weight_decay(0.0).amsgrad(amsgrad);
            assert_zero_gradient_is_a_no_op(&mut adamw, &values);
        }
    }
}
