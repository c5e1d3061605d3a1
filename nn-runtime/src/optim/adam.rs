//! Adam, and the machinery AdamW shares with it.

use super::Optimizer;

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
/// `p = p + (−s·m) / (√v / r + eps)` (a division, no fma). Rounding `1 − β₂` from `f64`
/// matters: `1f32 − 0.999f32` is off by 1.3e-5 relative, a systematic bias in `v`.
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

/// The per-step constants of the update, rounded to `f32` from `f64`.
#[derive(Debug, Clone, Copy, Default)]
struct Scalars {
    /// `1 − β₁`, the lerp weight of the first moment.
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// `−lr / (1 − β₁ᵗ)`.
    neg_step_size: f32,
    /// `√(1 − β₂ᵗ)`.
    bias_correction2_sqrt: f32,
    eps: f32,
    decay: Decay,
}

/// How weight decay enters the update.
#[derive(Debug, Clone, Copy, Default)]
enum Decay {
    #[default]
    None,
    /// Adam: `g ← g + wd·p`.
    Coupled(f32),
    /// AdamW: `p ← p·(1 − lr·wd)`.
    Decoupled(f32),
}

/// The moments of one parameter tensor.
#[derive(Debug, Clone)]
struct Moments {
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    /// Empty without amsgrad.
    max_exp_avg_sq: Vec<f32>,
}

/// `start + weight·(end − start)` rounded as PyTorch's vectorised `lerp` does on AVX2/AVX-512:
/// one fma from whichever end is nearer.
#[inline(always)]
pub(super) fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        weight.mul_add(end - start, start)
    } else {
        (weight - 1.0).mul_add(end - start, end)
    }
}

impl Adam {
    /// `torch.optim.Adam(params, lr=lr)`: betas (0.9, 0.999), eps 1e-8, no weight decay, no
    /// amsgrad.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    pub fn new(lr: f64) -> Self {
        assert!(lr >= 0.0, "Adam: invalid learning rate {lr}");
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
        assert!((0.0..1.0).contains(&beta1), "Adam: invalid beta1 {beta1}");
        assert!((0.0..1.0).contains(&beta2), "Adam: invalid beta2 {beta2}");
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets `eps`, added to the denominator (outside the square root).
    ///
    /// # Panics
    /// If `eps` is negative or NaN.
    pub fn eps(mut self, eps: f64) -> Self {
        assert!(eps >= 0.0, "Adam: invalid eps {eps}");
        self.eps = eps;
        self
    }

    /// Sets the weight decay: an L2 penalty `wd·p` added to the gradient (for Adam), or a
    /// decoupled shrink `p·(1 − lr·wd)` (for [`AdamW`](crate::AdamW)).
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        assert!(
            weight_decay >= 0.0,
            "Adam: invalid weight_decay {weight_decay}"
        );
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

impl Scalars {
    /// The weight decay, then the moment updates; returns nothing, updates in place.
    #[inline(always)]
    fn moments(&self, p: &mut f32, g: f32, m: &mut f32, v: &mut f32) {
        let g = match self.decay {
            Decay::None => g,
            Decay::Coupled(wd) => wd.mul_add(*p, g),
            Decay::Decoupled(factor) => {
                *p *= factor;
                g
            }
        };
        *m = lerp(*m, g, self.one_minus_beta1);
        *v = (self.one_minus_beta2 * g).mul_add(g, *v * self.beta2);
    }

    /// The parameter step from the first moment and the (maximum) second moment.
    #[inline(always)]
    fn apply(&self, p: &mut f32, m: f32, v: f32) {
        let denom = v.sqrt() / self.bias_correction2_sqrt + self.eps;
        *p += (self.neg_step_size * m) / denom;
    }
}

crate::simd::multiversion! {
    /// The update of every element, in one pass over parameter, gradient and moments: vector
    /// code with hardware FMA where the CPU has it (the results are the same either way).
    fn adam_pass(s: &Scalars, value: &mut [f32], grad: &[f32], exp_avg: &mut [f32], exp_avg_sq: &mut [f32]) => adam_elements;
}

#[inline(always)]
fn adam_elements(
    s: &Scalars,
    value: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    // Indexing over one known length (rather than zipped iterators) lets the compiler drop the
    // bounds checks and vectorise the loop.
    let n = value.len();
    let (grad, exp_avg, exp_avg_sq) = (&grad[..n], &mut exp_avg[..n], &mut exp_avg_sq[..n]);
    for i in 0..n {
        let (mut p, mut m, mut v) = (value[i], exp_avg[i], exp_avg_sq[i]);
        s.moments(&mut p, grad[i], &mut m, &mut v);
        s.apply(&mut p, m, v);
        (value[i], exp_avg[i], exp_avg_sq[i]) = (p, m, v);
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.step += 1;
        let t = self.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let decay = if self.weight_decay == 0.0 {
            Decay::None
        } else if self.decoupled {
            Decay::Decoupled((1.0 - self.lr * self.weight_decay) as f32)
        } else {
            Decay::Coupled(self.weight_decay as f32)
        };
        self.scalars = Scalars {
            one_minus_beta1: (1.0 - self.beta1) as f32,
            beta2: self.beta2 as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            neg_step_size: (-(self.lr / bias_correction1)) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            eps: self.eps as f32,
            decay,
        };
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
            let zeros = vec![0.0; value.len()];
            self.state.push(Moments {
                exp_avg: zeros.clone(),
                max_exp_avg_sq: if self.amsgrad {
                    zeros.clone()
                } else {
                    Vec::new()
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
        let elements = value
            .iter_mut()
            .zip(grad)
            .zip(&mut state.exp_avg)
            .zip(&mut state.exp_avg_sq);
        if self.amsgrad {
            for ((((p, &g), m), v), v_max) in elements.zip(&mut state.max_exp_avg_sq) {
                s.moments(p, g, m, v);
                // torch.maximum: NaN in `v` propagates.
                if *v > *v_max || v.is_nan() {
                    *v_max = *v;
                }
                s.apply(p, *m, *v_max);
            }
        } else {
            adam_pass(&s, value, grad, &mut state.exp_avg, &mut state.exp_avg_sq);
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{assert_zero_gradient_is_a_no_op, check_fixture, Model};
    use proptest::prelude::*;

    #[test]
    fn matches_pytorch_bit_for_bit() {
        assert_eq!(check_fixture(&mut Adam::new(1e-3), "adam", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_weight_decay_bit_for_bit() {
        let mut adam = Adam::new(1e-3).weight_decay(0.01);
        assert_eq!(check_fixture(&mut adam, "adam_wd0p01", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_amsgrad_bit_for_bit() {
        let mut adam = Adam::new(1e-3).amsgrad(true);
        assert_eq!(check_fixture(&mut adam, "adam_amsgrad", 0.0), 0);
    }

    #[test]
    fn defaults_and_builder() {
        let adam = Adam::default();
        assert_eq!(
            (adam.lr(), adam.beta1, adam.beta2, adam.eps),
            (1e-3, 0.9, 0.999, 1e-8)
        );
        assert_eq!(
            (adam.weight_decay, adam.amsgrad, adam.decoupled),
            (0.0, false, false)
        );
        let mut adam = Adam::new(0.5).betas(0.8, 0.99).eps(1e-6).weight_decay(0.1);
        assert_eq!(
            (adam.beta1, adam.beta2, adam.eps, adam.weight_decay),
            (0.8, 0.99, 1e-6, 0.1)
        );
        adam.set_lr(0.25);
        assert_eq!(adam.lr(), 0.25);
    }

    #[test]
    #[should_panic(expected = "invalid beta2")]
    fn rejects_a_beta_of_one() {
        let _ = Adam::new(1e-3).betas(0.9, 1.0);
    }

    #[test]
    fn state_is_allocated_once() {
        let mut adam = Adam::new(1e-2).amsgrad(true);
        let mut model = Model {
            values: vec![vec![1.0; 4], vec![2.0; 3]],
            grads: vec![vec![0.5; 4], vec![-0.5; 3]],
        };
        adam.step(&mut model);
        let pointers: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
        for _ in 0..3 {
            adam.step(&mut model);
        }
        let after: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
        assert_eq!((adam.state.len(), pointers), (2, after));
        assert_eq!(adam.steps(), 4);
    }

    #[test]
    fn large_beta1_uses_the_other_lerp_branch() {
        // 1 − β₁ ≥ 0.5 interpolates from the end: still the exact lerp to rounding.
        assert_eq!(lerp(2.0, 4.0, 0.75), 3.5);
        assert_eq!(lerp(2.0, 4.0, 0.25), 2.5);
        let mut adam = Adam::new(0.1).betas(0.2, 0.5);
        let mut model = Model::one(&[1.0]);
        model.grads[0][0] = 2.0;
        adam.step(&mut model);
        assert!((model.values[0][0] - 0.9).abs() < 1e-6);
    }

    proptest! {
        #[test]
        fn zero_gradient_changes_nothing(
            values in proptest::collection::vec(-1e3f32..1e3, 1..20),
            lr in 1e-4f64..1.0,
            beta1 in 0.0f64..0.99,
            beta2 in 0.0f64..0.9999,
            amsgrad: bool,
        ) {
            let mut adam = Adam::new(lr).betas(beta1, beta2).amsgrad(amsgrad);
            assert_zero_gradient_is_a_no_op(&mut adam, &values);
        }
    }
}
