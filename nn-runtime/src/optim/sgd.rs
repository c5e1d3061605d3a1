//! Stochastic gradient descent, with optional momentum.

use super::subnormal::{self, is_subnormal};
use super::{l2_decayed, Optimizer, OptimizerState};
use crate::error::Result;

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD(params, lr, momentum=0,
/// dampening=0, weight_decay=0, nesterov=False)`.
///
/// Update for each parameter `p` with gradient `g`:
///
/// ```text
/// g ← g + wd·p                        (only when weight_decay ≠ 0)
/// b ← g                               (momentum ≠ 0, first step: no dampening factor)
/// b ← μ·b + (1 − dampening)·g         (momentum ≠ 0, later steps)
/// g ← g + μ·b  (nesterov)  or  g ← b  (otherwise)
/// p ← p − lr·g
/// ```
///
/// NOTE: PyTorch's operation order, which makes the results bit-exact with its CPU
/// (single-tensor) implementation: scalars are rounded from `f64` to `f32` once, then
/// `g = fma(wd, p, g)`, `b = fma(1 − dampening, g, b·μ)`, `g = fma(μ, b, g)` and
/// `p = fma(−lr, g, p)`.
///
/// State: with momentum, one `f32` buffer the size of each parameter, allocated on the first
/// step (as a copy of the gradient) and updated in place. Without momentum, none.
///
/// ```
/// use nn_runtime::{Optimizer, SGD};
///
/// let mut sgd = SGD::new(0.5).momentum(0.9);
/// let mut weights = vec![1.0_f32];
/// for _ in 0..2 {
///     sgd.begin_step();
///     sgd.update(0, &mut weights, &[1.0]);
/// }
/// // Step 1: b = 1, p = 0.5. Step 2: b = 0.9 + 1 = 1.9, p = 0.5 − 0.95.
/// assert!((weights[0] - -0.45).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub struct SGD {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    step: u64,
    scalars: Scalars,
    momentum_buffers: Vec<Vec<f32>>,
}

/// The constants of the update, rounded to `f32` from `f64` once per step.
#[derive(Debug, Clone, Copy, Default)]
struct Scalars {
    neg_lr: f32,
    momentum: f32,
    one_minus_dampening: f32,
    weight_decay: f32,
}

impl SGD {
    /// `torch.optim.SGD(params, lr=lr)`: no momentum, no dampening, no weight decay.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    pub fn new(lr: f64) -> Self {
        super::check_non_negative("SGD", "learning rate", lr);
        SGD {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            step: 0,
            scalars: Scalars::default(),
            momentum_buffers: Vec::new(),
        }
    }

    /// Sets the momentum factor `μ` (0 disables momentum and its state).
    ///
    /// # Panics
    /// If `momentum` is negative or NaN.
    pub fn momentum(mut self, momentum: f64) -> Self {
        super::check_non_negative("SGD", "momentum", momentum);
        self.momentum = momentum;
        self
    }

    /// Sets the dampening: the gradient enters the momentum buffer scaled by `1 − dampening`
    /// (from the second step on).
    pub fn dampening(mut self, dampening: f64) -> Self {
        super::check_finite_setting("SGD", "dampening", dampening);
        self.dampening = dampening;
        self
    }

    /// Enables Nesterov momentum, which needs a momentum and zero dampening (checked at the
    /// first step, so the builder methods can come in any order).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the weight decay: an L2 penalty `wd·p` added to the gradient.
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        super::check_non_negative("SGD", "weight_decay", weight_decay);
        self.weight_decay = weight_decay;
        self
    }

    /// The number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl Default for SGD {
    /// PyTorch's default learning rate, 1e-3.
    fn default() -> Self {
        SGD::new(1e-3)
    }
}

/// Which terms of the update with momentum apply, fixed for a whole pass.
#[derive(Debug, Clone, Copy)]
struct Variant {
    with_decay: bool,
    /// The first step: the buffer starts as the gradient.
    first: bool,
    nesterov: bool,
}

crate::simd::multiversion! {
    /// `p ← p − lr·(g + wd·p)` over one parameter: vector code with hardware FMA where the CPU
    /// has it (the results are the same either way; without it, each `mul_add` would be a
    /// call to a software fma).
    fn plain_pass(s: &Scalars, with_decay: bool, value: &mut [f32], grad: &[f32]) => plain_elements;
}

crate::simd::multiversion! {
    /// The update with momentum, in one pass over parameter, gradient and buffer (as
    /// [`plain_pass`]).
    fn momentum_pass(
        s: &Scalars,
        variant: Variant,
        value: &mut [f32],
        grad: &[f32],
        buffer: &mut [f32],
    ) => momentum_elements;
}

#[inline(always)]
fn plain_elements(s: &Scalars, with_decay: bool, value: &mut [f32], grad: &[f32]) {
    for (p, &g) in value.iter_mut().zip(grad) {
        *p = s
            .neg_lr
            .mul_add(l2_decayed(with_decay, s.weight_decay, *p, g), *p);
    }
}

/// Elements per block of the momentum pass: one AVX-512 vector.
const BLOCK: usize = 16;

#[inline(always)]
fn momentum_elements(
    s: &Scalars,
    variant: Variant,
    value: &mut [f32],
    grad: &[f32],
    buffer: &mut [f32],
) {
    // Blocks of one known length let the compiler drop the bounds checks and turn each block
    // into a few vector instructions.
    let n = value.len();
    let (grad, buffer) = (&grad[..n], &mut buffer[..n]);
    let quiet_allowed = s.quiet_lanes_allowed(variant);
    let blocks = value
        .chunks_exact_mut(BLOCK)
        .zip(grad.chunks_exact(BLOCK))
        .zip(buffer.chunks_exact_mut(BLOCK));
    for ((p, g), b) in blocks {
        let p: &mut [f32; BLOCK] = p.try_into().expect("a whole block");
        let g: &[f32; BLOCK] = g.try_into().expect("a whole block");
        let b: &mut [f32; BLOCK] = b.try_into().expect("a whole block");
        if quiet_allowed && b.iter().fold(false, |any, &b| any | is_subnormal(b)) {
            for i in 0..BLOCK {
                (p[i], b[i]) = s.update_with_quiet_lane(variant, p[i], g[i], b[i]);
            }
        } else {
            for i in 0..BLOCK {
                (p[i], b[i]) = s.update(variant, p[i], g[i], b[i]);
            }
        }
    }
    for i in n - n % BLOCK..n {
        (value[i], buffer[i]) = if quiet_allowed {
            s.update_with_quiet_lane(variant, value[i], grad[i], buffer[i])
        } else {
            s.update(variant, value[i], grad[i], buffer[i])
        };
    }
}

impl Scalars {
    /// One element's update with momentum, in PyTorch's order: the new parameter and buffer.
    #[inline(always)]
    fn update(&self, variant: Variant, p: f32, g: f32, b: f32) -> (f32, f32) {
        let g = l2_decayed(variant.with_decay, self.weight_decay, p, g);
        let b = if variant.first {
            g
        } else {
            self.one_minus_dampening.mul_add(g, b * self.momentum)
        };
        let direction = if variant.nesterov {
            self.momentum.mul_add(b, g)
        } else {
            b
        };
        (self.neg_lr.mul_add(direction, p), b)
    }

    /// Whether [`Scalars::update_with_quiet_lane`] may take its shortcut: a buffer that decays
    /// (`μ < 1`, after the first step) and a learning rate of at most 2¹⁰.
    fn quiet_lanes_allowed(&self, variant: Variant) -> bool {
        !variant.first && self.momentum < 1.0 && self.neg_lr.abs() <= 1024.0
    }

    /// [`Scalars::update`], bit for bit, without arithmetic on a subnormal momentum buffer
    /// where the gradient is zero: the buffer of a unit that no longer receives gradient decays
    /// into the subnormals and stays there ([`super::subnormal`]).
    ///
    /// For such a "quiet" lane (gradient ±0 after any weight decay, subnormal buffer `b`,
    /// |parameter| ≥ 2⁻⁴⁸):
    /// * the buffer becomes `fma(1 − dampening, ±0, b·μ)`: `RN(b·μ)`, computed on its integer,
    ///   unless that is a zero, whose sign is then the sum's;
    /// * the step `lr·direction` is below `2¹⁰·2⁻¹²⁶`, under half an ulp of the parameter,
    ///   which does not move: the update with `b = 0` gives the same parameter.
    #[inline(always)]
    fn update_with_quiet_lane(&self, variant: Variant, p: f32, g: f32, b: f32) -> (f32, f32) {
        let zero_gradient = l2_decayed(variant.with_decay, self.weight_decay, p, g);
        // `&` rather than `&&`: no branches, so that the block stays vector code.
        let quiet = (zero_gradient.to_bits() << 1 == 0)
            & is_subnormal(b)
            & subnormal::magnitude_at_least(p, f32::powi(2.0, -48));
        let (p, b_ordinary) = self.update(variant, p, g, if quiet { 0.0 } else { b });
        // `(1 − dampening)·(±0)` is a zero (no arithmetic on a subnormal).
        let gradient_term = self.one_minus_dampening * zero_gradient;
        let b_quiet = subnormal::scale_plus_zero(b, self.momentum, gradient_term);
        (p, if quiet { b_quiet } else { b_ordinary })
    }
}

impl Optimizer for SGD {
    /// # Panics
    /// If Nesterov momentum is enabled without a momentum or with a dampening, as PyTorch
    /// raises an error.
    fn begin_step(&mut self) {
        assert!(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "SGD: Nesterov momentum requires a momentum and zero dampening"
        );
        self.step += 1;
        self.scalars = Scalars {
            neg_lr: (-self.lr) as f32,
            momentum: self.momentum as f32,
            one_minus_dampening: (1.0 - self.dampening) as f32,
            weight_decay: self.weight_decay as f32,
        };
    }

    /// # Panics
    /// If `index` skips a parameter never seen before, if `value` and `grad` differ in length,
    /// or if parameter `index` changed length since the first step.
    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]) {
        assert_eq!(
            value.len(),
            grad.len(),
            "SGD: parameter {index} and its gradient"
        );
        let s = self.scalars;
        let with_decay = self.weight_decay != 0.0;
        if self.momentum == 0.0 {
            plain_pass(&s, with_decay, value, grad);
            return;
        }
        let first = index == self.momentum_buffers.len();
        if first {
            self.momentum_buffers.push(vec![0.0; value.len()]);
        }
        let buffer = &mut self.momentum_buffers[index];
        assert_eq!(
            buffer.len(),
            value.len(),
            "SGD: parameter {index} changed length"
        );
        let variant = Variant {
            with_decay,
            first,
            nesterov: self.nesterov,
        };
        momentum_pass(&s, variant, value, grad, buffer);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        super::check_non_negative("SGD", "learning rate", lr);
        self.lr = lr;
    }

    fn state(&self) -> Option<OptimizerState> {
        let buffers = self
            .momentum_buffers
            .iter()
            .map(|buffer| vec![("momentum_buffer".to_owned(), buffer.clone())]);
        Some(OptimizerState {
            step: self.step,
            buffers: buffers.collect(),
        })
    }

    fn restore_state(&mut self, state: &OptimizerState) -> Result<()> {
        // Without momentum SGD keeps no buffers, and none may be given.
        let names: &[&str] = if self.momentum == 0.0 {
            &[]
        } else {
            &["momentum_buffer"]
        };
        let mut buffers = Vec::with_capacity(state.buffers.len());
        for index in 0..state.buffers.len() {
            buffers.extend(state.take(index, names)?);
        }
        self.momentum_buffers = buffers;
        self.step = state.step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{
        assert_zero_gradient_is_a_no_op, awkward_gradients, awkward_value, check_fixture, Model,
    };
    use proptest::prelude::*;

    #[test]
    fn a_restored_state_takes_the_next_step_bit_for_bit() {
        crate::optim::test_support::assert_state_resumes(|| SGD::new(0.1).momentum(0.9));
        crate::optim::test_support::assert_state_resumes(|| {
            SGD::new(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(0.01)
        });
        crate::optim::test_support::assert_state_resumes(|| SGD::new(0.1));
    }

    #[test]
    fn subnormal_shortcut_is_bit_exact() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let configs = [
            SGD::new(0.1).momentum(0.9),
            SGD::new(1e-3).momentum(0.5).dampening(0.1),
            SGD::new(0.5).momentum(0.99).nesterov(true),
            SGD::new(1e-2).momentum(0.9).dampening(1.5),
            SGD::new(1e-2).momentum(0.9).weight_decay(0.01),
            SGD::new(1000.0).momentum(0.3),
        ];
        for (c, mut sgd) in configs.into_iter().enumerate() {
            sgd.step = 1;
            sgd.begin_step();
            let s = sgd.scalars;
            let variant = Variant {
                with_decay: sgd.weight_decay != 0.0,
                first: false,
                nesterov: sgd.nesterov,
            };
            let n = 1000 + c;
            let mut p: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng)).collect();
            let g = awkward_gradients(&mut rng, n, 16);
            let mut b: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng)).collect();
            // A block of negative buffers whose product with a small μ rounds to −0, while the
            // gradient term is +0: the sum is +0.
            for i in 0..16 {
                (p[i], b[i]) = (1.0, -f32::from_bits(1 + i as u32 % 3));
            }
            let expected: Vec<(f32, f32)> = (0..n)
                .map(|i| s.update(variant, p[i], g[i], b[i]))
                .collect();
            momentum_pass(&s, variant, &mut p, &g, &mut b);
            for (i, &(ep, eb)) in expected.iter().enumerate() {
                assert_eq!(
                    (p[i].to_bits(), b[i].to_bits()),
                    (ep.to_bits(), eb.to_bits()),
                    "config {c}, element {i}: g {:e}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn matches_pytorch_bit_for_bit() {
        assert_eq!(check_fixture(&mut SGD::new(0.1), "sgd", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_momentum_bit_for_bit() {
        let mut sgd = SGD::new(0.1).momentum(0.9);
        assert_eq!(check_fixture(&mut sgd, "sgd_momentum0p9", 0.0), 0);
    }

    #[test]
    fn matches_pytorch_with_nesterov_bit_for_bit() {
        let mut sgd = SGD::new(0.1).momentum(0.9).nesterov(true);
        assert_eq!(check_fixture(&mut sgd, "sgd_nesterov0p9", 0.0), 0);
    }

    #[test]
    fn dampening_skips_the_first_step() {
        let mut sgd = SGD::new(1.0).momentum(0.5).dampening(0.5);
        let mut model = Model::one(&[0.0]);
        model.grads[0][0] = 1.0;
        sgd.step(&mut model);
        assert_eq!(model.values[0][0], -1.0); // b = g
        sgd.step(&mut model);
        assert_eq!(model.values[0][0], -2.0); // b = 0.5·1 + 0.5·1
        assert_eq!(sgd.steps(), 2);
    }

    #[test]
    fn weight_decay_adds_to_the_gradient() {
        let mut sgd = SGD::new(0.5).weight_decay(0.5);
        let mut model = Model::one(&[2.0]);
        sgd.step(&mut model);
        assert_eq!(model.values[0][0], 1.5); // g = 0 + 0.5·2
    }

    #[test]
    fn learning_rate_can_be_scheduled() {
        let mut sgd = SGD::default();
        assert_eq!(sgd.lr(), 1e-3);
        sgd.set_lr(0.25);
        let mut model = Model::one(&[1.0]);
        model.grads[0][0] = 2.0;
        sgd.step(&mut model);
        assert_eq!((sgd.lr(), model.values[0][0]), (0.25, 0.5));
    }

    #[test]
    #[should_panic(expected = "Nesterov momentum requires a momentum")]
    fn nesterov_needs_momentum() {
        SGD::new(0.1).nesterov(true).step(&mut Model::one(&[1.0]));
    }

    proptest! {
        #[test]
        fn zero_gradient_changes_nothing(
            values in proptest::collection::vec(-1e3f32..1e3, 1..20),
            lr in 0.0f64..1.0,
            momentum in 0.0f64..0.99,
            dampening in 0.0f64..1.0,
            nesterov: bool,
        ) {
            let mut sgd = SGD::new(lr).momentum(momentum);
            sgd = if nesterov && momentum > 0.0 {
                sgd.nesterov(true)
            } else {
                sgd.dampening(dampening)
            };
            assert_zero_gradient_is_a_no_op(&mut sgd, &values);
        }
    }
}
