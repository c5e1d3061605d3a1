//! Adam, and the machinery AdamW shares with it: the builder and the optimizer here, the
//! per-element pass in [`pass`], its exact division in [`divisor`].

mod divisor;
mod pass;

use super::{check_fraction, check_non_negative, Optimizer, OptimizerState};
use crate::aligned::AlignedVec;
use crate::error::Result;
use pass::{adam_pass, amsgrad_pass, Scalars};

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

/// The moments of one parameter tensor.
#[derive(Debug, Clone)]
struct Moments {
    exp_avg: AlignedVec,
    exp_avg_sq: AlignedVec,
    /// Empty without amsgrad.
    max_exp_avg_sq: AlignedVec,
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

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.step += 1;
        self.scalars = Scalars::for_step(self);
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

    fn state(&self) -> Option<OptimizerState> {
        let names = self.buffer_names();
        let buffers = self
            .state
            .iter()
            .map(|moments| {
                let all = [
                    &moments.exp_avg,
                    &moments.exp_avg_sq,
                    &moments.max_exp_avg_sq,
                ];
                let named = names.iter().zip(all);
                named
                    .map(|(name, values)| (name.to_string(), values.to_vec()))
                    .collect()
            })
            .collect();
        Some(OptimizerState {
            step: self.step,
            buffers,
        })
    }

    fn restore_state(&mut self, state: &OptimizerState) -> Result<()> {
        let names = self.buffer_names();
        let state_of = |index| -> Result<Moments> {
            let mut buffers = state
                .take(index, names)?
                .into_iter()
                .map(AlignedVec::from_iter);
            Ok(Moments {
                exp_avg: buffers.next().unwrap_or_default(),
                exp_avg_sq: buffers.next().unwrap_or_default(),
                max_exp_avg_sq: buffers.next().unwrap_or_default(),
            })
        };
        self.state = (0..state.buffers.len())
            .map(state_of)
            .collect::<Result<_>>()?;
        self.step = state.step;
        Ok(())
    }
}

impl Adam {
    /// PyTorch's names of the buffers each parameter has, in [`Moments`]' order.
    fn buffer_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }
}

#[cfg(test)]
mod tests;
