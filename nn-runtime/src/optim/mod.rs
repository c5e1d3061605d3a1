//! Optimizers, with PyTorch's update rules and operation order.
//!
//! An optimizer sees a model through [`Parameters`]: a fixed-order walk over every parameter
//! tensor with its gradient. State (moments, momentum buffers) is created on the first step, one
//! entry per parameter in visiting order, and updated in place afterwards, so a warm step
//! allocates nothing.
//!
//! Hyperparameters are `f64`, as Python floats are in PyTorch; expressions such as `1 − β₂` are
//! computed in `f64` and rounded to `f32` once, which is what makes the results match PyTorch's.

mod adam;
mod adamw;
mod clip;
mod rmsprop;
mod schedule;
mod sgd;
mod subnormal;

pub use adam::Adam;
pub use adamw::AdamW;
pub use clip::clip_grad_norm;
pub use rmsprop::RMSprop;
pub use schedule::{
    CosineAnnealingLR, LrScheduler, OneCycleLR, PlateauState, ReduceLROnPlateau, StepLR,
};
pub use sgd::SGD;

use crate::error::{Error, Result};
use crate::finite::{any_non_finite, first_non_finite};

/// Checks that every parameter of `params` and its gradient are finite, before an optimizer
/// step uses them.
///
/// A NaN or an infinity in a gradient would spread into the parameters and the optimizer's state
/// at the next step, and one in a parameter (written through [`Linear::weight_mut`], say) can
/// hide behind a ReLU that never passes it on. Generated `train_step`s call this after the
/// backward pass and make no update when it fails; call it in a hand-written loop between
/// `backward` and `step`.
///
/// # Errors
/// [`Error::NonFiniteParameter`] or [`Error::NonFiniteGradient`] naming the first parameter,
/// in visiting order, with a NaN or an infinity in its values or its gradient.
///
/// [`Linear::weight_mut`]: crate::Linear::weight_mut
pub fn check_finite<P: Parameters + ?Sized>(params: &mut P) -> Result<()> {
    let mut bad = None;
    params.visit_parameters(&mut |name: &str, value: &mut [f32], grad: &mut [f32]| {
        if bad.is_some() || !any_non_finite(value, grad) {
            return;
        }
        let parameter = name.to_owned();
        bad = Some(match first_non_finite(value) {
            Some(_) => Error::NonFiniteParameter { parameter },
            None => Error::NonFiniteGradient { parameter },
        });
    });
    bad.map_or(Ok(()), Err)
}

/// Panics unless the setting `name` of `owner` is finite and at least 0, with a message that
/// names both: a NaN or a negative learning rate would ruin the weights at the next step.
#[track_caller]
pub(crate) fn check_non_negative(owner: &str, name: &str, value: f64) {
    assert!(
        value.is_finite() && value >= 0.0,
        "{owner}: invalid {name}: must be finite and at least 0, found {value}"
    );
}

/// Panics unless the setting `name` of `owner` is finite (a setting PyTorch puts no range on).
#[track_caller]
pub(crate) fn check_finite_setting(owner: &str, name: &str, value: f64) {
    assert!(
        value.is_finite(),
        "{owner}: invalid {name}: must be finite, found {value}"
    );
}

/// Panics unless the setting `name` of `owner` is in `[0, 1)`, as decay rates must be.
#[track_caller]
pub(crate) fn check_fraction(owner: &str, name: &str, value: f64) {
    assert!(
        (0.0..1.0).contains(&value),
        "{owner}: invalid {name}: must be in [0, 1), found {value}"
    );
}

/// `start + weight·(end − start)` rounded as PyTorch's vectorised `lerp` does on AVX2/AVX-512:
/// one fma from whichever end is nearer.
#[inline(always)]
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        weight.mul_add(end - start, start)
    } else {
        (weight - 1.0).mul_add(end - start, end)
    }
}

/// `g + wd·p`, PyTorch's L2 weight decay folded into the gradient, or `g` without it.
#[inline(always)]
fn l2_decayed(with_decay: bool, weight_decay: f32, p: f32, g: f32) -> f32 {
    if with_decay {
        weight_decay.mul_add(p, g)
    } else {
        g
    }
}

/// Receives each parameter tensor of a model in turn.
pub trait ParameterVisitor {
    /// One parameter tensor (`fc1.weight`, PyTorch's name) and its gradient, both as the layer
    /// stores them: a wide `Linear` keeps its weight transposed (`[in, out]`), so read values
    /// in PyTorch's `[out, in]` order through [`Linear::weight`](crate::Linear::weight) or
    /// [`NamedTensors`](crate::NamedTensors). Everything an optimizer does is elementwise, or a
    /// norm, and the gradient is always laid out like its parameter.
    fn visit(&mut self, name: &str, value: &mut [f32], grad: &mut [f32]);
}

impl<F: FnMut(&str, &mut [f32], &mut [f32])> ParameterVisitor for F {
    fn visit(&mut self, name: &str, value: &mut [f32], grad: &mut [f32]) {
        self(name, value, grad);
    }
}

/// Something with trainable parameters, visited in a fixed order.
pub trait Parameters {
    /// Calls `visitor` once per parameter tensor, always in the same order.
    fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V);

    /// Sets every gradient to zero, like PyTorch's `zero_grad(set_to_none=False)`.
    fn zero_grad(&mut self) {
        self.visit_parameters(&mut |_: &str, _: &mut [f32], grad: &mut [f32]| grad.fill(0.0));
    }
}

/// An optimization algorithm that updates parameters from their gradients.
///
/// Implementors provide [`begin_step`](Optimizer::begin_step) and
/// [`update`](Optimizer::update); [`step`](Optimizer::step) walks a model with them.
pub trait Optimizer {
    /// Updates every parameter of `params` once, like PyTorch's `optimizer.step()`.
    fn step<P: Parameters + ?Sized>(&mut self, params: &mut P) {
        self.begin_step();
        let mut index = 0;
        params.visit_parameters(&mut |_: &str, value: &mut [f32], grad: &mut [f32]| {
            self.update(index, value, grad);
            index += 1;
        });
    }

    /// Starts a step: advances the step counter used for bias correction.
    fn begin_step(&mut self);

    /// Updates parameter number `index` (in visiting order) in place from its gradient.
    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]);

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate, for schedules.
    fn set_lr(&mut self, lr: f64);

    /// The state a checkpoint keeps: the step count and each parameter's buffers, or `None`
    /// for an optimizer that cannot save it (the default).
    fn state(&self) -> Option<OptimizerState> {
        None
    }

    /// Continues from a saved [`state`](Optimizer::state).
    ///
    /// # Errors
    /// [`Error::OptimizerState`] when the state is not one this optimizer, with its settings,
    /// would have (another optimizer's buffers, say), and by default, for an optimizer that
    /// cannot restore its state. The optimizer is unchanged then.
    fn restore_state(&mut self, state: &OptimizerState) -> Result<()> {
        let _ = state;
        Err(Error::OptimizerState {
            message: format!(
                "`{}` cannot restore its state; implement `Optimizer::restore_state`",
                std::any::type_name::<Self>()
            ),
        })
    }
}

/// An optimizer's state: what it needs, besides its settings, to go on as if never stopped.
///
/// Buffers carry PyTorch's names (`exp_avg`, `momentum_buffer`), so a checkpoint names them
/// after their parameter: `fc1.weight.exp_avg`.
///
/// ```
/// use nn_runtime::{Adam, Optimizer};
///
/// let mut adam = Adam::new(0.1);
/// let mut weights = [1.0_f32, 2.0];
/// adam.begin_step();
/// adam.update(0, &mut weights, &[0.5, -0.5]);
///
/// let state = adam.state().unwrap();
/// assert_eq!(state.step, 1);
/// assert_eq!(state.buffers[0][0].0, "exp_avg");
/// // Another Adam goes on from there.
/// let mut resumed = Adam::new(0.1);
/// resumed.restore_state(&state)?;
/// assert_eq!(resumed.state(), Some(state));
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimizerState {
    /// The number of steps taken, PyTorch's `state['step']`.
    pub step: u64,
    /// Per parameter, in visiting order, its named buffers; empty before the first step.
    pub buffers: Vec<Vec<(String, Vec<f32>)>>,
}

impl OptimizerState {
    /// The buffers of parameter `index` named by `names`, each as long as the first.
    ///
    /// # Errors
    /// [`Error::OptimizerState`] for a missing, extra or ill-sized buffer.
    pub(crate) fn take(&self, index: usize, names: &[&str]) -> Result<Vec<Vec<f32>>> {
        let buffers = &self.buffers[index];
        let wrong = |message: String| Err(Error::OptimizerState { message });
        if let Some((extra, _)) = buffers.iter().find(|(name, _)| !names.contains(&&**name)) {
            return wrong(format!(
                "parameter {index} has an unexpected buffer `{extra}`"
            ));
        }
        let mut found = Vec::with_capacity(names.len());
        for &name in names {
            match buffers.iter().find(|(n, _)| n == name) {
                Some((_, values)) => found.push(values.clone()),
                None => return wrong(format!("parameter {index} has no buffer `{name}`")),
            }
        }
        if found.iter().any(|values| values.len() != found[0].len()) {
            return wrong(format!("the buffers of parameter {index} differ in length"));
        }
        Ok(found)
    }
}

/// Test helpers shared by the optimizer files: a small model and the PyTorch fixtures.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Optimizer, ParameterVisitor, Parameters};
    use crate::error::Error;
    use crate::testing::{assert_close, load_fixture};

    /// Values that exercise the subnormal shortcut and each of its conditions.
    pub(crate) fn awkward_value(rng: &mut impl rand::Rng) -> f32 {
        let kind: u32 = rng.gen();
        let sign = if rng.gen() { 1.0 } else { -1.0 };
        sign * match kind % 8 {
            0 => 0.0,
            1 => f32::from_bits(rng.gen_range(1..16)),
            2 => f32::from_bits(rng.gen_range(1..0x0080_0000)),
            3 => f32::MIN_POSITIVE * rng.gen_range(1.0..2.0),
            4 => f32::powi(2.0, rng.gen_range(-60..-40)) * rng.gen_range(1.0..2.0),
            5 => rng.gen_range(1e-8..1e-3),
            6 => rng.gen_range(0.01..3.0),
            _ => f32::powi(2.0, -48),
        }
    }

    /// `n` gradients for the subnormal shortcuts' tests: an awkward value, `+0` and `−0` in
    /// turn, after `zeros` leading `+0`s.
    pub(crate) fn awkward_gradients(rng: &mut impl rand::Rng, n: usize, zeros: usize) -> Vec<f32> {
        (0..n)
            .map(|i| match i % 3 {
                _ if i < zeros => 0.0,
                0 => awkward_value(rng),
                1 => 0.0,
                _ => -0.0,
            })
            .collect()
    }

    /// A model with parameters named `param0`, `param1`, … (the fixtures have one).
    pub(crate) struct Model {
        pub(crate) values: Vec<Vec<f32>>,
        pub(crate) grads: Vec<Vec<f32>>,
    }

    impl Model {
        /// A model with one parameter tensor holding `value`, with a zero gradient.
        pub(crate) fn one(value: &[f32]) -> Self {
            Model {
                values: vec![value.to_vec()],
                grads: vec![vec![0.0; value.len()]],
            }
        }
    }

    impl Parameters for Model {
        fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
            for (i, (value, grad)) in self.values.iter_mut().zip(&mut self.grads).enumerate() {
                visitor.visit(&format!("param{i}"), value, grad);
            }
        }
    }

    /// The distance between two floats in units in the last place (0 for equal values).
    pub(crate) fn ulps(a: f32, b: f32) -> u32 {
        // Map the sign-magnitude bits onto a monotonic integer line.
        let key = |x: f32| {
            let bits = x.to_bits() as i32;
            if bits < 0 {
                i32::MIN - bits
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b))
    }

    /// Runs the six steps of `optimizers/<name>.safetensors` through [`Optimizer::step`] and
    /// compares the parameter after each with PyTorch's, as `|a − b| ≤ atol` (atol = 0: bit
    /// for bit). Returns the largest difference in ulps.
    pub(crate) fn check_fixture<O: Optimizer>(optimizer: &mut O, name: &str, atol: f32) -> u32 {
        run_fixture(optimizer, name, atol, false)
    }

    /// As [`check_fixture`], but each step starts from PyTorch's parameter after the previous
    /// one, so that the returned ulps measure one step's rounding, not their accumulation.
    /// Valid for optimizers whose state does not depend on the parameter (no weight decay).
    pub(crate) fn check_fixture_step_by_step<O: Optimizer>(
        optimizer: &mut O,
        name: &str,
        atol: f32,
    ) -> u32 {
        run_fixture(optimizer, name, atol, true)
    }

    fn run_fixture<O: Optimizer>(optimizer: &mut O, name: &str, atol: f32, resync: bool) -> u32 {
        let tensors = load_fixture(&format!("optimizers/{name}.safetensors"));
        let (param0, grads, params) = (&tensors["param0"], &tensors["grads"], &tensors["params"]);
        assert_eq!(param0.shape, [7, 5]);
        assert_eq!(grads.shape, [6, 7, 5]);
        let len = param0.data.len();
        let mut model = Model::one(&param0.data);
        let mut worst = 0;
        let mut previous = &param0.data[..];
        for (step, (grad, expected)) in grads
            .data
            .chunks_exact(len)
            .zip(params.data.chunks_exact(len))
            .enumerate()
        {
            if resync {
                model.values[0].copy_from_slice(previous);
            }
            model.grads[0].copy_from_slice(grad);
            optimizer.step(&mut model);
            let what = format!("{name} after step {}", step + 1);
            assert_close(&what, &model.values[0], expected, atol, 0.0);
            let step_worst = model.values[0]
                .iter()
                .zip(expected)
                .map(|(&a, &b)| ulps(a, b));
            worst = worst.max(step_worst.max().unwrap_or(0));
            previous = expected;
        }
        worst
    }

    /// An optimizer made by `make`, restored from the state of one that took two steps, takes
    /// the third step as that one does, bit for bit; a state of other buffers is refused.
    pub(crate) fn assert_state_resumes<O: Optimizer>(make: impl Fn() -> O) {
        let grads = |step: usize| -> Vec<Vec<f32>> {
            let g = |i: usize| ((i * 7 + step * 3) % 11) as f32 / 5.0 - 1.0;
            vec![(0..6).map(g).collect(), (6..9).map(g).collect()]
        };
        let mut model = Model {
            values: vec![vec![0.5; 6], vec![-0.25; 3]],
            grads: grads(0),
        };
        let mut original = make();
        for step in 0..2 {
            model.grads = grads(step);
            original.step(&mut model);
        }
        let state = original
            .state()
            .expect("a built-in optimizer saves its state");
        assert_eq!(state.step, 2);
        let mut resumed = make();
        resumed.restore_state(&state).unwrap();
        let mut copy = Model {
            values: model.values.clone(),
            grads: grads(2),
        };
        model.grads = grads(2);
        original.step(&mut model);
        resumed.step(&mut copy);
        let bits =
            |m: &Model| -> Vec<u32> { m.values.iter().flatten().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&model), bits(&copy));
        assert_eq!(resumed.state(), original.state());

        let mut foreign = state.clone();
        if let Some(first) = foreign.buffers.first_mut() {
            first.push(("unknown".to_owned(), vec![0.0; 6]));
            assert!(matches!(
                make().restore_state(&foreign),
                Err(Error::OptimizerState { .. })
            ));
        }
    }

    /// Several steps with zero gradients leave `values` unchanged, bit for bit.
    pub(crate) fn assert_zero_gradient_is_a_no_op<O: Optimizer>(optimizer: &mut O, values: &[f32]) {
        let mut model = Model {
            values: vec![values.to_vec(), values.iter().rev().copied().collect()],
            grads: vec![vec![0.0; values.len()]; 2],
        };
        for _ in 0..3 {
            optimizer.step(&mut model);
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&model.values[0]), bits(values));
        let reversed: Vec<f32> = values.iter().rev().copied().collect();
        assert_eq!(bits(&model.values[1]), bits(&reversed));
    }
}
