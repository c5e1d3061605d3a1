//! The logistic sigmoid.

use super::{Activation, Fusion};

/// Logistic sigmoid, PyTorch's `torch.nn.Sigmoid()`: `y = 1 / (1 + exp(−x))`.
///
/// Derivative from the output: `y·(1 − y)`, so it is exactly 0 once `y` rounds to 1, as in
/// PyTorch. Followed by [`BCELoss`](crate::BCELoss), the loss uses the combined gradient
/// `σ(x) − t` instead.
///
/// ```
/// use nn_runtime::{Activation, Sigmoid};
/// assert_eq!(Sigmoid.forward(0.0), 0.5);
/// assert_eq!(Sigmoid.derivative(0.0, 0.5), 0.25);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    const FUSION: Fusion = Fusion::Sigmoid;

    #[inline]
    fn forward(&self, x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    #[inline]
    fn derivative(&self, _x: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}
