//! The fully connected layer.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use rand::Rng;

use crate::activation::{Identity, RowActivation};
use crate::aligned::AlignedVec;
use crate::io::{TensorVisitor, TensorVisitorMut};
use crate::kernel::{self, Dims, WeightLayout};
use crate::optim::ParameterVisitor;
use crate::size;

/// A fully connected layer, PyTorch's `torch.nn.Linear(IN, OUT)`: `y = x·Wᵀ + b`.
///
/// `weight` is `[OUT, IN]` and `bias` is `[OUT]`, as in a PyTorch state dict; gradients have the
/// same shapes. A layer at least 16 outputs wide stores its weight transposed, `[IN, OUT]`
/// row-major, which is the layout the forward product reads: [`Linear::weight`] is then a
/// transposed view, and saving and loading ([`NamedTensors`](crate::NamedTensors)) convert.
///
/// Initialisation follows PyTorch's default (`kaiming_uniform_(a=√5)`): weight and bias both
/// uniform in `±1/√IN`.
///
/// ```
/// use nn_runtime::Linear;
/// use rand::SeedableRng;
///
/// let layer = Linear::<3, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// assert_eq!(layer.weight().dim(), (2, 3));
/// assert!(layer.weight().iter().all(|w| w.abs() <= 1.0 / 3f32.sqrt()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Linear<const IN: usize, const OUT: usize> {
    weight: AlignedVec,
    bias: AlignedVec,
    weight_grad: AlignedVec,
    bias_grad: AlignedVec,
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// The number of trainable values: `OUT·IN + OUT`.
    pub const PARAMS: usize = OUT * IN + OUT;

    /// Values of the weight, `OUT·IN`: a layer too large to count them does not compile.
    const WEIGHTS: usize = match OUT.checked_mul(IN) {
        Some(weights) => weights,
        None => panic!("the layer's OUT × IN weights overflow the address space"),
    };

    /// How the weight is stored: transposed when the layer is wide.
    const LAYOUT: WeightLayout = WeightLayout::for_outputs(OUT);

    /// A layer initialised as PyTorch does, from `rng`.
    ///
    /// Draws the weight first, row by row (`[OUT, IN]`), then the bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let bound = 1.0 / (IN as f32).sqrt();
        let mut uniform = || rng.gen_range(-bound..=bound);
        let weight: Vec<f32> = (0..Self::WEIGHTS).map(|_| uniform()).collect();
        let bias = (0..OUT).map(|_| uniform()).collect();
        let mut layer = Linear {
            bias,
            ..Linear::zeros()
        };
        layer.set_weight(&weight);
        layer
    }

    /// Sets the weight from its values in PyTorch's `[OUT, IN]` order.
    fn set_weight(&mut self, values: &[f32]) {
        let values = ArrayView2::from_shape((OUT, IN), values).expect("OUT × IN values");
        self.weight_mut().assign(&values);
    }

    /// `stored`, a weight or its gradient, as a `[OUT, IN]` view.
    fn view(stored: &[f32]) -> ArrayView2<'_, f32> {
        match Self::LAYOUT {
            WeightLayout::OutIn => ArrayView2::from_shape((OUT, IN), stored),
            WeightLayout::InOut => {
                ArrayView2::from_shape((IN, OUT), stored).map(|v| v.reversed_axes())
            }
        }
        .expect("a weight holds OUT × IN values")
    }

    /// A layer whose weights and biases are all zero.
    pub fn zeros() -> Self {
        Linear {
            weight: AlignedVec::zeros(Self::WEIGHTS),
            bias: AlignedVec::zeros(OUT),
            weight_grad: AlignedVec::zeros(Self::WEIGHTS),
            bias_grad: AlignedVec::zeros(OUT),
        }
    }

    /// The weight, `[OUT, IN]` (a transposed view for a layer stored `[IN, OUT]`).
    pub fn weight(&self) -> ArrayView2<'_, f32> {
        Self::view(&self.weight)
    }

    /// The weight, `[OUT, IN]`, for writing.
    pub fn weight_mut(&mut self) -> ArrayViewMut2<'_, f32> {
        match Self::LAYOUT {
            WeightLayout::OutIn => ArrayViewMut2::from_shape((OUT, IN), &mut self.weight[..]),
            WeightLayout::InOut => ArrayViewMut2::from_shape((IN, OUT), &mut self.weight[..])
                .map(|v| v.reversed_axes()),
        }
        .expect("a weight holds OUT × IN values")
    }

    /// The bias, `[OUT]`.
    pub fn bias(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.bias[..])
    }

    /// The bias, `[OUT]`, for writing.
    pub fn bias_mut(&mut self) -> ArrayViewMut1<'_, f32> {
        ArrayViewMut1::from(&mut self.bias[..])
    }

    /// The gradient of the weight from the last backward pass, `[OUT, IN]`.
    pub fn weight_grad(&self) -> ArrayView2<'_, f32> {
        Self::view(&self.weight_grad)
    }

    /// The gradient of the bias from the last backward pass, `[OUT]`.
    pub fn bias_grad(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(&self.bias_grad[..])
    }

    fn dims(rows: usize) -> Dims {
        Dims {
            rows,
            inputs: IN,
            outputs: OUT,
            layout: Self::LAYOUT,
        }
    }
}

/// The passes and visits that code generated by `network!` runs on a [`Linear`], over raw
/// row-major slices. Not a stable interface: kernel signatures change with the kernels, so only
/// generated code (through `nn`'s private module) should call these.
pub trait LinearPasses: sealed::Sealed {
    /// `z = x·Wᵀ + b` for `rows` rows of `x` (row-major, `IN` wide), written to `z`.
    ///
    /// # Panics
    /// If `x` has fewer than `rows × IN` values or `z` fewer than `rows × OUT`, or if those
    /// products overflow the address space.
    fn forward_into(&self, rows: usize, x: &[f32], z: &mut [f32]);

    /// `z = x·Wᵀ + b` and `a = activation(z)` in one pass over the output rows.
    ///
    /// With [`ReLU`](crate::ReLU), the product stores `max(z, 0)` straight into `a`, and `z`
    /// may be left as it was: ReLU's derivative reads only `a`. Use
    /// [`forward_into`](Self::forward_into) for `z` itself.
    ///
    /// # Panics
    /// If a buffer is shorter than `rows` rows, or if `rows` rows overflow the address space.
    fn forward_activate<A: RowActivation>(
        &self,
        rows: usize,
        x: &[f32],
        z: &mut [f32],
        a: &mut [f32],
        activation: &A,
    );

    /// Parameter gradients from `x` (this layer's input) and `dz` (the gradient of the loss with
    /// respect to this layer's output): `dW = dzᵀ·x`, `db = Σ dz`.
    ///
    /// With `accumulate`, adds to the stored gradients as PyTorch's `backward()` does; without,
    /// overwrites them (a training step that starts from zero gradients anyway).
    ///
    /// # Panics
    /// If a buffer is shorter than `rows` rows, or if `rows` rows overflow the address space.
    fn backward_params(&mut self, rows: usize, x: &[f32], dz: &[f32], accumulate: bool);

    /// The gradient with respect to the pre-activation of the layer before: `dx = dz·W`, then
    /// multiplied by `activation`'s derivative at that layer's `prev_z` / `prev_a` (folded into
    /// the same pass).
    ///
    /// # Panics
    /// If a buffer is shorter than `rows` rows, or if `rows` rows overflow the address space.
    fn backward_input<A: RowActivation>(
        &self,
        rows: usize,
        dz: &[f32],
        prev_z: &[f32],
        prev_a: &[f32],
        activation: &A,
        dx: &mut [f32],
    );

    /// Visits `weight` then `bias` under the given names, for optimizers: each as stored, so
    /// the weight may be transposed (its gradient always is alike).
    fn visit_parameters<V: ParameterVisitor + ?Sized>(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut V,
    );

    /// Visits `weight` (shape `[OUT, IN]`, in that order whatever the storage) then `bias`
    /// (`[OUT]`) read-only, for saving.
    fn visit_tensors(&self, weight_name: &str, bias_name: &str, visitor: &mut TensorVisitor<'_>);

    /// Visits `weight` (`[OUT, IN]`) then `bias` for writing, for loading.
    fn visit_tensors_mut(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitorMut<'_>,
    );
}

mod sealed {
    /// Only the runtime's layers have [`LinearPasses`](super::LinearPasses).
    pub trait Sealed {}
}

impl<const IN: usize, const OUT: usize> sealed::Sealed for Linear<IN, OUT> {}

impl<const IN: usize, const OUT: usize> LinearPasses for Linear<IN, OUT> {
    fn forward_into(&self, rows: usize, x: &[f32], z: &mut [f32]) {
        kernel::forward(
            Self::dims(rows),
            &x[..size::values(rows, IN)],
            &self.weight,
            &self.bias,
            &mut z[..size::values(rows, OUT)],
            None,
            &Identity,
        );
    }

    fn forward_activate<A: RowActivation>(
        &self,
        rows: usize,
        x: &[f32],
        z: &mut [f32],
        a: &mut [f32],
        activation: &A,
    ) {
        kernel::forward(
            Self::dims(rows),
            &x[..size::values(rows, IN)],
            &self.weight,
            &self.bias,
            &mut z[..size::values(rows, OUT)],
            Some(&mut a[..size::values(rows, OUT)]),
            activation,
        );
    }

    fn backward_params(&mut self, rows: usize, x: &[f32], dz: &[f32], accumulate: bool) {
        kernel::weight_grad(
            Self::dims(rows),
            &x[..size::values(rows, IN)],
            &dz[..size::values(rows, OUT)],
            &mut self.weight_grad,
            &mut self.bias_grad,
            accumulate,
        );
    }

    fn backward_input<A: RowActivation>(
        &self,
        rows: usize,
        dz: &[f32],
        prev_z: &[f32],
        prev_a: &[f32],
        activation: &A,
        dx: &mut [f32],
    ) {
        kernel::input_grad(
            Self::dims(rows),
            &dz[..size::values(rows, OUT)],
            &self.weight,
            &prev_z[..size::values(rows, IN)],
            &prev_a[..size::values(rows, IN)],
            activation,
            &mut dx[..size::values(rows, IN)],
        );
    }

    fn visit_parameters<V: ParameterVisitor + ?Sized>(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut V,
    ) {
        visitor.visit(weight_name, &mut self.weight, &mut self.weight_grad);
        visitor.visit(bias_name, &mut self.bias, &mut self.bias_grad);
    }

    fn visit_tensors(&self, weight_name: &str, bias_name: &str, visitor: &mut TensorVisitor<'_>) {
        // A copy only when the weight is stored transposed.
        let view = self.weight();
        let weight = view.as_standard_layout();
        let weight = weight.as_slice().expect("a standard layout is contiguous");
        visitor(weight_name, &[OUT, IN], weight);
        visitor(bias_name, &[OUT], &self.bias);
    }

    fn visit_tensors_mut(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitorMut<'_>,
    ) {
        match Self::LAYOUT {
            WeightLayout::OutIn => visitor(weight_name, &[OUT, IN], &mut self.weight),
            WeightLayout::InOut => {
                let mut pytorch: Vec<f32> = self.weight().iter().copied().collect();
                visitor(weight_name, &[OUT, IN], &mut pytorch);
                self.set_weight(&pytorch);
            }
        }
        visitor(bias_name, &[OUT], &mut self.bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ReLU;
    use rand::SeedableRng;

    /// The plain triple loop every kernel must agree with.
    fn reference_forward(w: &[f32], b: &[f32], x: &[f32], n_in: usize, n_out: usize) -> Vec<f32> {
        let rows = x.len() / n_in;
        let mut z = vec![0.0; rows * n_out];
        for r in 0..rows {
            for o in 0..n_out {
                let mut s = b[o] as f64;
                for i in 0..n_in {
                    s += x[r * n_in + i] as f64 * w[o * n_in + i] as f64;
                }
                z[r * n_out + o] = s as f32;
            }
        }
        z
    }

    fn check_shapes<const IN: usize, const OUT: usize>(rows: usize) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(IN as u64 * 31 + OUT as u64);
        let mut layer = Linear::<IN, OUT>::new(&mut rng);
        let x: Vec<f32> = (0..rows * IN).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let dz: Vec<f32> = (0..rows * OUT).map(|_| rng.gen_range(-1.0..1.0)).collect();

        let mut z = vec![0.0; rows * OUT];
        let mut a = vec![0.0; rows * OUT];
        layer.forward_into(rows, &x, &mut z);
        let weight: Vec<f32> = layer.weight().iter().copied().collect();
        let expected = reference_forward(&weight, &layer.bias, &x, IN, OUT);
        crate::testing::assert_close("z", &z, &expected, 1e-5, 1e-5);
        layer.forward_activate(rows, &x, &mut z, &mut a, &ReLU);
        let relu: Vec<f32> = expected.iter().map(|v| v.max(0.0)).collect();
        crate::testing::assert_close("a", &a, &relu, 1e-5, 1e-5);

        layer.backward_params(rows, &x, &dz, false);
        let mut dw = vec![0.0f32; OUT * IN];
        let mut db = vec![0.0f32; OUT];
        for r in 0..rows {
            for o in 0..OUT {
                db[o] += dz[r * OUT + o];
                for i in 0..IN {
                    dw[o * IN + i] += dz[r * OUT + o] * x[r * IN + i];
                }
            }
        }
        let weight_grad =
            |layer: &Linear<IN, OUT>| -> Vec<f32> { layer.weight_grad().iter().copied().collect() };
        crate::testing::assert_close("dW", &weight_grad(&layer), &dw, 1e-5, 1e-5);
        crate::testing::assert_close("db", &layer.bias_grad, &db, 1e-5, 1e-5);
        layer.backward_params(rows, &x, &dz, true);
        let doubled: Vec<f32> = dw.iter().map(|v| 2.0 * v).collect();
        crate::testing::assert_close("dW accumulated", &weight_grad(&layer), &doubled, 1e-5, 1e-5);

        let mut dx = vec![0.0; rows * IN];
        let prev: Vec<f32> = x.iter().map(|v| v - 0.5).collect();
        layer.backward_input(rows, &dz, &prev, &prev, &ReLU, &mut dx);
        for r in 0..rows {
            for i in 0..IN {
                let mut s = 0.0;
                for o in 0..OUT {
                    s += dz[r * OUT + o] * weight[o * IN + i];
                }
                let expected = if prev[r * IN + i] > 0.0 { s } else { 0.0 };
                crate::testing::assert_close("dx", &[dx[r * IN + i]], &[expected], 1e-5, 1e-5);
            }
        }
    }

    #[test]
    fn kernels_agree_with_the_plain_loops_on_awkward_shapes() {
        for rows in [1, 3, 4, 5, 9] {
            check_shapes::<1, 1>(rows);
            check_shapes::<7, 3>(rows);
            check_shapes::<8, 8>(rows);
            check_shapes::<17, 33>(rows);
            check_shapes::<64, 2>(rows);
            check_shapes::<33, 5>(rows);
        }
    }

    /// Runs `f` and returns its panic message (it must panic).
    fn panic_message(f: impl FnOnce()) -> String {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .expect_err("a size that overflows must panic");
        match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload.downcast_ref::<&str>().unwrap().to_string(),
        }
    }

    #[test]
    fn row_counts_whose_sizes_overflow_panic_instead_of_wrapping() {
        let mut layer = Linear::<4, 2>::zeros();
        // 2⁶² rows: 2⁶² × 4 inputs wrap to 0. 2⁶³ rows: 2⁶³ × 2 outputs wrap to 0 as well.
        for rows in [1 << 62, 1 << 63] {
            let overflows = |message: String| {
                assert!(
                    message.ends_with("features overflow the address space"),
                    "{rows} rows: {message}"
                );
            };
            overflows(panic_message(|| layer.forward_into(rows, &[], &mut [])));
            overflows(panic_message(|| {
                layer.forward_activate(rows, &[], &mut [], &mut [], &ReLU)
            }));
            overflows(panic_message(|| {
                layer.backward_params(rows, &[], &[], false)
            }));
            overflows(panic_message(|| {
                layer.backward_input(rows, &[], &[], &[], &ReLU, &mut [])
            }));
        }
        // The kernels check the sizes themselves, whatever slices they are given.
        let dims = Dims {
            rows: 1 << 63,
            ..Linear::<4, 2>::dims(0)
        };
        let message = panic_message(|| {
            kernel::forward(
                dims,
                &[],
                &layer.weight,
                &layer.bias,
                &mut [],
                None,
                &Identity,
            )
        });
        assert_eq!(
            message,
            "9223372036854775808 rows × 4 features overflow the address space"
        );
    }

    #[test]
    fn a_wide_layer_stored_transposed_shows_pytorch_order() {
        // 16 outputs: stored [IN, OUT]; every view and visitor still speaks [OUT, IN].
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut layer = Linear::<3, 16>::new(&mut rng);
        assert_eq!(Linear::<3, 16>::LAYOUT, WeightLayout::InOut);
        let mut again = rand::rngs::StdRng::seed_from_u64(5);
        let bound = 1.0 / 3f32.sqrt();
        let drawn: Vec<f32> = (0..48).map(|_| again.gen_range(-bound..=bound)).collect();
        assert_eq!(layer.weight().iter().copied().collect::<Vec<_>>(), drawn);
        assert_eq!(layer.weight()[[1, 0]], layer.weight[1]);

        let counting: Vec<f32> = (0..48).map(|v| v as f32).collect();
        layer.visit_tensors_mut("w", "b", &mut |name, shape, values| {
            if name == "w" {
                assert_eq!(shape, [16, 3]);
                values.copy_from_slice(&counting);
            }
        });
        assert_eq!(layer.weight()[[2, 1]], 7.0);
        layer.visit_tensors("w", "b", &mut |name, _, values| {
            if name == "w" {
                assert_eq!(values, &counting[..]);
            }
        });
    }

    #[test]
    fn initialisation_is_bounded_and_reproducible() {
        let a = Linear::<64, 128>::new(&mut rand::rngs::StdRng::seed_from_u64(1));
        let b = Linear::<64, 128>::new(&mut rand::rngs::StdRng::seed_from_u64(1));
        assert_eq!(a, b);
        let bound = 1.0 / 8.0;
        assert!(a
            .weight
            .iter()
            .chain(a.bias.iter())
            .all(|v| v.abs() <= bound));
        let mean = a.weight.iter().sum::<f32>() / a.weight.len() as f32;
        assert!(mean.abs() < 0.01, "mean {mean}");
    }
}
