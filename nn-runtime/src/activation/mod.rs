//! Activation functions, each with its forward and its derivative side by side.
//!
//! Two traits:
//! * [`Activation`] is the elementwise kind, and the one to implement for a custom activation:
//!   a scalar `forward` and a scalar `derivative` that may read the input, the output, or both.
//! * [`RowActivation`] is what generated code calls. It works a row at a time, so that row-wise
//!   functions ([`Softmax`], [`LogSoftmax`]) fit too. Every [`Activation`] is a [`RowActivation`].
//!
//! Generated code keeps both the input and the output of every activation, so a derivative can
//! use whichever is cheaper (`y·(1 − y)` for [`Sigmoid`], the input for [`ReLU`]) and nothing is
//! recomputed in the backward pass.

mod celu;
mod elu;
mod gelu;
mod hardsigmoid;
mod hardswish;
mod hardtanh;
mod identity;
mod leaky_relu;
mod log_softmax;
mod mish;
mod relu;
mod relu6;
mod selu;
mod sigmoid;
mod silu;
mod softmax;
mod softplus;
mod softsign;
mod tanh;

pub use celu::CELU;
pub use elu::ELU;
pub use gelu::GELU;
pub use hardsigmoid::Hardsigmoid;
pub use hardswish::Hardswish;
pub use hardtanh::Hardtanh;
pub use identity::Identity;
pub use leaky_relu::LeakyReLU;
pub use log_softmax::LogSoftmax;
pub use mish::Mish;
pub use relu::ReLU;
pub use relu6::ReLU6;
pub use selu::SELU;
pub use sigmoid::Sigmoid;
pub use silu::SiLU;
pub use softmax::Softmax;
pub use softplus::Softplus;
pub use softsign::Softsign;
pub use tanh::Tanh;

/// Which closed form a loss may use when this activation is the last layer.
///
/// A loss that knows the activation before it can skip the activation's own derivative and use a
/// combined, numerically stable gradient (`σ(z) − y` for sigmoid followed by binary
/// cross-entropy). Custom activations keep the default, [`Fusion::None`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fusion {
    /// No combined gradient: the loss gradient goes through the activation's derivative.
    None,
    /// The logistic sigmoid.
    Sigmoid,
    /// Row-wise softmax.
    Softmax,
    /// Row-wise log-softmax.
    LogSoftmax,
}

/// An elementwise activation function `y = f(x)`: implement this for a custom activation.
///
/// `derivative` gets both the input `x` and the output `y = forward(x)`, and returns `dy/dx`;
/// use whichever makes it cheaper. Any type implementing this trait can be named in
/// `network!` (a unit struct as `-> Swish ->`, a tuple struct as `-> Scaled(2.0) ->`).
///
/// ```
/// use nn_runtime::Activation;
///
/// /// Swish with β = 1 (PyTorch's `SiLU`), written by hand.
/// #[derive(Debug, Clone, Copy)]
/// struct Swish;
///
/// impl Activation for Swish {
///     fn forward(&self, x: f32) -> f32 {
///         x / (1.0 + (-x).exp())
///     }
///     fn derivative(&self, x: f32, y: f32) -> f32 {
///         let s = 1.0 / (1.0 + (-x).exp());
///         y + s * (1.0 - y)
///     }
/// }
///
/// assert!((Swish.forward(1.0) - 0.731_058_6).abs() < 1e-6);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an activation",
    label = "not a built-in layer, and `{Self}` does not implement `nn::Activation`",
    note = "a custom activation is a type that implements `nn::Activation` (`forward` and `derivative`)"
)]
pub trait Activation {
    /// `f(x)`.
    fn forward(&self, x: f32) -> f32;

    /// `f'(x)`, given the input `x` and the output `y = f(x)`.
    fn derivative(&self, x: f32, y: f32) -> f32;

    /// The name shown in a model summary; by default the type's name without its path.
    fn name(&self) -> &'static str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Which combined gradient a following loss may use. Leave the default.
    #[doc(hidden)]
    const FUSION: Fusion = Fusion::None;
}

/// A function applied to each row of a batch: what generated code calls for every activation.
///
/// Implemented for every [`Activation`] (elementwise) and by [`Softmax`] and [`LogSoftmax`]
/// (row-wise). `input` and `output` are one row each, of the same length.
pub trait RowActivation {
    /// Which combined gradient a following loss may use.
    const FUSION: Fusion;

    /// The name shown in a model summary.
    fn display_name(&self) -> &'static str;

    /// Writes `f(input)` to `output`.
    fn forward_row(&self, input: &[f32], output: &mut [f32]);

    /// Turns `grad`, the gradient with respect to `output`, into the gradient with respect to
    /// `input`, in place.
    fn backward_row(&self, input: &[f32], output: &[f32], grad: &mut [f32]);

    /// [`forward_row`](Self::forward_row) over every row of a row-major batch `width` wide.
    fn forward_rows(&self, input: &[f32], output: &mut [f32], width: usize) {
        let width = width.max(1);
        for (x, y) in input.chunks_exact(width).zip(output.chunks_exact_mut(width)) {
            self.forward_row(x, y);
        }
    }

    /// [`backward_row`](Self::backward_row) over every row of a row-major batch `width` wide.
    fn backward_rows(&self, input: &[f32], output: &[f32], grad: &mut [f32], width: usize) {
        let width = width.max(1);
        for ((x, y), g) in input
            .chunks_exact(width)
            .zip(output.chunks_exact(width))
            .zip(grad.chunks_exact_mut(width))
        {
            self.backward_row(x, y, g);
        }
    }
}

impl<A: Activation> RowActivation for A {
    const FUSION: Fusion = A::FUSION;

    fn display_name(&self) -> &'static str {
        self.name()
    }

    #[inline]
    fn forward_row(&self, input: &[f32], output: &mut [f32]) {
        for (y, &x) in output.iter_mut().zip(input) {
            *y = self.forward(x);
        }
    }

    #[inline]
    fn backward_row(&self, input: &[f32], output: &[f32], grad: &mut [f32]) {
        for ((g, &x), &y) in grad.iter_mut().zip(input).zip(output) {
            *g *= self.derivative(x, y);
        }
    }
}
