//! Activation functions, each with its forward and its derivative side by side.
//!
//! Two traits:
//! * [`Activation`] is the elementwise kind, and the one to implement for a custom activation:
//!   a scalar `forward` and a scalar `derivative` that may read the input, the output, or both.
//! * [`RowActivation`] is what generated code calls. It works a row at a time, so that row-wise
//!   functions ([`Softmax`], [`LogSoftmax`]) fit too. Every [`Activation`] is a [`RowActivation`].
//!
//! Generated code keeps both the input and the output of every activation, so a derivative can
//! use whichever is cheaper (`y·(1 − y)` for [`Sigmoid`]) and nothing is recomputed in the
//! backward pass. The one exception is [`ReLU`]: the forward product applies it as it stores its
//! results, so its input is never written, and its derivative reads the output (`y > 0`).
//!
//! The built-in activations that need `exp`, `tanh` or a logarithm use the crate's own (in
//! `math`), which are a few fused multiply-adds each, and are `#[inline(always)]`: inlined,
//! they are compiled with the kernels' instruction set and become vector code; a copy compiled
//! on its own would target the baseline CPU, where each fused multiply-add is a library call.

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
mod softshrink;
mod softsign;
mod tanh;
mod tanhshrink;

use crate::error::{Error, Result};
use crate::onnx::OnnxGraph;

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
pub use softshrink::Softshrink;
pub use softsign::Softsign;
pub use tanh::Tanh;
pub use tanhshrink::Tanhshrink;

/// The built-in activations that the kernels and the losses treat specially.
///
/// The type sits in a private module: outside the runtime it cannot be named, so an activation
/// defined elsewhere cannot claim to be one of these, and keeps [`Builtin::Other`].
mod builtin {
    /// Which built-in activation a type is, where that changes how it is computed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Builtin {
        /// Any other activation: computed by its own `forward` and `derivative`.
        Other,
        /// A forward product stores `max(z, 0)` straight into the output and does not write
        /// `z`; an input-gradient product keeps its result where the output is above zero.
        ReLU,
        /// Binary cross-entropy after it uses the combined gradient `σ(z) − y`.
        Sigmoid,
        /// Cross-entropy after it uses the combined gradient `softmax(z) − onehot(y)`.
        Softmax,
        /// Negative log-likelihood after it uses the combined gradient `softmax(z) − onehot(y)`.
        LogSoftmax,
    }
}

pub(crate) use builtin::Builtin;

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

    /// Adds `f(input)` to an ONNX graph being exported, and returns the name of the value
    /// holding it: one standard operator where there is one, else a few
    /// ([`OnnxGraph::node`](crate::onnx::OnnxGraph::node)).
    ///
    /// # Errors
    /// By default [`Error::NoOnnxForm`], naming the activation: a
    /// network that uses it can be trained and saved, but not exported.
    fn onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String> {
        let _ = (graph, input);
        Err(Error::NoOnnxForm {
            activation: self.name().to_owned(),
        })
    }

    /// The name shown in a model summary; by default the type's name without its path.
    fn name(&self) -> &'static str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Which built-in activation this is; only the runtime's own can say anything but
    /// `Other`.
    #[doc(hidden)]
    const BUILTIN: builtin::Builtin = builtin::Builtin::Other;
}

/// A function applied to each row of a batch: what generated code calls for every activation.
///
/// Implemented for every [`Activation`] (elementwise) and by [`Softmax`] and [`LogSoftmax`]
/// (row-wise). `input` and `output` are one row each, of the same length.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an activation",
    label = "not a built-in layer, and `{Self}` does not implement `nn::Activation`",
    note = "a custom activation is a type that implements `nn::Activation` (`forward` and `derivative`)"
)]
pub trait RowActivation {
    /// Which built-in activation this is, where that changes how the kernels and the losses
    /// compute it. For [`ReLU`], a forward product stores `max(z, 0)` straight into the output
    /// and the input `z` is not written; an input-gradient product stores its result where the
    /// output is above zero, and `+0` elsewhere (a select, like PyTorch's `threshold_backward`),
    /// and [`backward_row`](Self::backward_row) reads only `output`. Only the runtime's own
    /// activations can say anything but `Other`.
    #[doc(hidden)]
    const BUILTIN: builtin::Builtin = builtin::Builtin::Other;

    /// The name shown in a model summary.
    fn display_name(&self) -> &'static str;

    /// Writes `f(input)` to `output`.
    fn forward_row(&self, input: &[f32], output: &mut [f32]);

    /// Turns `grad`, the gradient with respect to `output`, into the gradient with respect to
    /// `input`, in place.
    fn backward_row(&self, input: &[f32], output: &[f32], grad: &mut [f32]);

    /// Adds the activation, applied to each row, to an ONNX graph being exported; see
    /// [`Activation::onnx`].
    ///
    /// # Errors
    /// By default [`Error::NoOnnxForm`], naming the activation.
    fn onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String> {
        let _ = (graph, input);
        Err(Error::NoOnnxForm {
            activation: self.display_name().to_owned(),
        })
    }

    /// [`forward_row`](Self::forward_row) over every row of a row-major batch `width` wide.
    // Always inlined: the kernels call it with AVX2 or AVX-512 enabled, and only inlined code
    // is compiled for those.
    #[inline(always)]
    fn forward_rows(&self, input: &[f32], output: &mut [f32], width: usize) {
        let width = width.max(1);
        for (x, y) in input
            .chunks_exact(width)
            .zip(output.chunks_exact_mut(width))
        {
            self.forward_row(x, y);
        }
    }

    /// [`backward_row`](Self::backward_row) over every row of a row-major batch `width` wide.
    #[inline(always)]
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

// Not recommended in errors: "`X` is not an activation" is clearer than a list of every
// activation type.
#[diagnostic::do_not_recommend]
impl<A: Activation> RowActivation for A {
    const BUILTIN: builtin::Builtin = A::BUILTIN;

    fn display_name(&self) -> &'static str {
        self.name()
    }

    fn onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String> {
        Activation::onnx(self, graph, input)
    }

    #[inline(always)]
    fn forward_row(&self, input: &[f32], output: &mut [f32]) {
        for (y, &x) in output.iter_mut().zip(input) {
            *y = self.forward(x);
        }
    }

    #[inline(always)]
    fn backward_row(&self, input: &[f32], output: &[f32], grad: &mut [f32]) {
        // Indexed over one length, checked once: a zip of three slices here was left scalar
        // when the derivative read only the output.
        let n = grad.len().min(input.len()).min(output.len());
        let (input, output, grad) = (&input[..n], &output[..n], &mut grad[..n]);
        for i in 0..n {
            grad[i] *= self.derivative(input[i], output[i]);
        }
    }

    // All whole rows as one run of elements: a row of a narrow layer (two outputs for the
    // seed network) is too short to become vector code by itself.
    #[inline(always)]
    fn forward_rows(&self, input: &[f32], output: &mut [f32], width: usize) {
        let len = input.len().min(output.len()) / width.max(1) * width;
        self.forward_row(&input[..len], &mut output[..len]);
    }

    // All whole rows as one run of elements, as `forward_rows`.
    #[inline(always)]
    fn backward_rows(&self, input: &[f32], output: &[f32], grad: &mut [f32], width: usize) {
        let len = grad.len().min(input.len()).min(output.len()) / width.max(1) * width;
        self.backward_row(input, output, &mut grad[..len]);
    }
}

/// Checks shared by the tests of every activation: the PyTorch fixture, finite differences and
/// extreme inputs.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Activation, RowActivation};
    use crate::testing::{assert_close, load_fixture};

    /// Step of the finite differences. The activations compute in `f32`, so the step cannot be
    /// small: rounding the outputs costs about `6e-8·|y| / 2h ≈ 3e-6·|y|`, truncation
    /// `h²/6·|f'''| ≈ 2e-5·|f'''|`. Hence the loose tolerances below (rtol 1e-2, atol 1e-3).
    const H: f64 = 1e-2;
    const FD_RTOL: f64 = 1e-2;
    const FD_ATOL: f64 = 1e-3;

    /// Runs `act` forward and backward on `tests/fixtures/activations/<name>.safetensors` and
    /// compares with PyTorch's `out` and `grad_x` (rtol = atol = 1e-5, as the fixture README
    /// suggests). The backward gets our own output, as generated code gives it.
    #[track_caller]
    pub(crate) fn check_against_fixture<A: RowActivation>(act: &A, name: &str) {
        let tensors = load_fixture(&format!("activations/{name}.safetensors"));
        let get = |key: &str| {
            let t = tensors
                .get(key)
                .unwrap_or_else(|| panic!("{name}: no tensor `{key}`"));
            assert_eq!(t.shape.len(), 2, "{name}.{key}: shape {:?}", t.shape);
            t
        };
        let (x, expected_out, g, expected_grad) = (get("x"), get("out"), get("g"), get("grad_x"));
        let width = x.shape[1];

        let mut out = vec![f32::NAN; x.data.len()];
        act.forward_rows(&x.data, &mut out, width);
        assert_close(&format!("{name} out"), &out, &expected_out.data, 1e-5, 1e-5);

        let mut grad = g.data.clone();
        act.backward_rows(&x.data, &out, &mut grad, width);
        assert_close(
            &format!("{name} grad_x"),
            &grad,
            &expected_grad.data,
            1e-5,
            1e-5,
        );
    }

    /// Compares `derivative(x, forward(x))` with the central difference of `forward` at each
    /// point. Keep the points more than `2h = 0.02` away from any kink.
    #[track_caller]
    pub(crate) fn check_derivative_by_finite_differences<A: Activation>(act: &A, points: &[f32]) {
        for &x in points {
            // The step actually taken, after rounding x ± h to f32.
            let (lo, hi) = ((f64::from(x) - H) as f32, (f64::from(x) + H) as f32);
            let numeric = (f64::from(act.forward(hi)) - f64::from(act.forward(lo)))
                / (f64::from(hi) - f64::from(lo));
            let analytic = f64::from(act.derivative(x, act.forward(x)));
            let allowed = FD_ATOL + FD_RTOL * numeric.abs();
            assert!(
                (analytic - numeric).abs() <= allowed,
                "{}: derivative at {x} is {analytic:e}, finite difference {numeric:e} \
                 (allowed {allowed:e})",
                act.name()
            );
        }
    }

    /// Compares `backward_row` with central differences of `L(x) = Σ gᵢ·f(x)ᵢ` (in `f64`
    /// from the `f32` outputs), one coordinate at a time.
    #[track_caller]
    pub(crate) fn check_row_backward_by_finite_differences<A: RowActivation>(
        act: &A,
        x: &[f32],
        g: &[f32],
    ) {
        let loss = |x: &[f32]| {
            let mut y = vec![0.0; x.len()];
            act.forward_row(x, &mut y);
            y.iter()
                .zip(g)
                .map(|(&y, &g)| f64::from(y) * f64::from(g))
                .sum::<f64>()
        };
        let mut y = vec![0.0; x.len()];
        act.forward_row(x, &mut y);
        let mut grad = g.to_vec();
        act.backward_row(x, &y, &mut grad);

        for i in 0..x.len() {
            let (mut lo, mut hi) = (x.to_vec(), x.to_vec());
            lo[i] = (f64::from(x[i]) - H) as f32;
            hi[i] = (f64::from(x[i]) + H) as f32;
            let numeric = (loss(&hi) - loss(&lo)) / (f64::from(hi[i]) - f64::from(lo[i]));
            let analytic = f64::from(grad[i]);
            let allowed = FD_ATOL + FD_RTOL * numeric.abs();
            assert!(
                (analytic - numeric).abs() <= allowed,
                "{}: gradient [{i}] is {analytic:e}, finite difference {numeric:e} \
                 (allowed {allowed:e})",
                act.display_name()
            );
        }
    }

    /// Inputs far out on both sides (±100, ±1000, whole rows of them) give finite outputs and
    /// finite gradients.
    #[track_caller]
    pub(crate) fn check_finite_at_extremes<A: RowActivation>(act: &A) {
        let rows: [&[f32]; 4] = [
            &[-1000.0, -100.0, -1e-8, 0.0, 1e-8, 100.0, 1000.0],
            &[1000.0, 1000.0, 999.0],
            &[-1000.0, -1000.0, -999.0],
            &[100.0, -100.0],
        ];
        for x in rows {
            let mut y = vec![f32::NAN; x.len()];
            act.forward_row(x, &mut y);
            let mut grad = vec![1.0; x.len()];
            act.backward_row(x, &y, &mut grad);
            assert!(
                y.iter().chain(&grad).all(|v| v.is_finite()),
                "{}: {x:?} gives {y:?}, gradient {grad:?}",
                act.display_name()
            );
        }
    }
}
