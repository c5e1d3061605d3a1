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

pub use adam::Adam;
pub use adamw::AdamW;
pub use clip::clip_grad_norm;
pub use rmsprop::RMSprop;
pub use schedule::{CosineAnnealingLR, LrScheduler, StepLR};
pub use sgd::SGD;

/// Receives each parameter tensor of a model in turn.
pub trait ParameterVisitor {
    /// One parameter tensor (`fc1.weight`, PyTorch's name and layout) and its gradient.
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
}
