//! The two-dimensional convolution: its settings (`settings.rs`), the layer (here), whose
//! passes are the shared convolution's (`super::conv`), and the tests against PyTorch
//! (`tests.rs`).

mod generated;
mod settings;
#[cfg(test)]
mod tests;

use ndarray::{ArrayView1, ArrayView4, ArrayViewMut1, ArrayViewMut4};
use rand::Rng;

use super::conv::{self, Gradients, Shape};
use crate::aligned::AlignedVec;
// Named only by the documentation's links and the tests.
#[cfg(any(doc, test))]
use crate::error::Error;
use crate::error::Result;
use crate::io::{NamedTensors, TensorVisitor, TensorVisitorMut};
use crate::optim::{ParameterVisitor, Parameters};
#[doc(hidden)]
pub use generated::conv2d;
pub use settings::Conv2dSettings;

/// A two-dimensional convolution, PyTorch's `torch.nn.Conv2d`: output channel `o` at `(y, x)`
/// is `bias[o] + Σ_c Σ_i Σ_j weight[o, c, i, j] · x[g·C_in/groups + c, y·sh + i·dh − ph,
/// x·sw + j·dw − pw]`, over the input channels `c` of the group `g` of `o` and the taps
/// `(i, j)`, with zeros outside the input (`s`, `p`, `d`: stride, padding, dilation, along
/// the height and the width).
///
/// `weight` is `[C_out, C_in/groups, kh, kw]` and `bias` `[C_out]`, as in a PyTorch state
/// dict; gradients have the same shapes. A row of a batch is one example in PyTorch's
/// contiguous order (`x.view(n, -1)` of a `[n, C_in, H, W]` tensor), `C_in·H·W` values wide;
/// an output row is `[C_out, H_out, W_out]` likewise. The sizes are set when the layer is built
/// ([`Conv2dSettings`]), the input's included, and checked then.
///
/// Initialisation follows PyTorch's default (`kaiming_uniform_(a=√5)`): weight and bias both
/// uniform in `±1/√fan_in`, `fan_in = C_in/groups · kh·kw`.
///
/// The passes are [`Conv1d`](super::Conv1d)'s, on matrix products: the input is rearranged
/// into columns (im2col) in a workspace the caller provides,
/// [`workspace_len`](Conv2d::workspace_len) values for a batch, so that no pass allocates.
///
/// ```
/// use nn_runtime::{Conv2d, Conv2dSettings};
/// use rand::SeedableRng;
///
/// // LeNet's second layer: `Conv2d(6, 16, 5)` on 14 × 14.
/// let settings = Conv2dSettings::new(6, 16, 5, 14, 14);
/// let mut conv = Conv2d::new(settings, &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// assert_eq!(conv.weight().dim(), (16, 6, 5, 5));
/// assert_eq!(conv.output_size(), (10, 10));
/// assert_eq!(conv.output_width(), 16 * 10 * 10);
///
/// let rows = 2;
/// let input = vec![1.0; rows * conv.input_width()];
/// let mut output = vec![0.0; rows * conv.output_width()];
/// let mut workspace = vec![0.0; conv.workspace_len(rows)?];
/// conv.forward(rows, &input, &mut output, &mut workspace)?;
/// // A constant input gives each channel its filter's sum.
/// let weight = conv.weight();
/// let filter_sum: f32 = weight.index_axis(ndarray::Axis(0), 3).sum();
/// let bias = conv.bias().expect("a bias by default");
/// assert!((output[100 * 3 + 42] - (filter_sum + bias[3])).abs() < 1e-5);
///
/// // Gradients add up, as PyTorch's `backward()` does, until zeroed.
/// let grad_output = vec![1.0; rows * conv.output_width()];
/// conv.backward_params(rows, &input, &grad_output, &mut workspace, true)?;
/// assert_eq!(conv.bias_grad().expect("a bias")[0], (rows * 100) as f32);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    settings: Conv2dSettings,
    shape: Shape,
    /// `[C_out, C_in/groups, kh, kw]`, PyTorch's layout, in which each group's filters are the
    /// rows of a contiguous `[C_out/groups, patch]` matrix that the products read in place.
    weight: AlignedVec,
    /// `[C_out]`, or empty without a bias.
    bias: AlignedVec,
    weight_grad: AlignedVec,
    bias_grad: AlignedVec,
}

impl Conv2d {
    /// A layer with `settings`, initialised as PyTorch does, from `rng`.
    ///
    /// Draws the weight first, in PyTorch's order (`[C_out, C_in/groups, kh, kw]`), then the
    /// bias.
    ///
    /// # Errors
    /// As [`Conv2dSettings::output_size`], for settings PyTorch rejects.
    pub fn new<R: Rng + ?Sized>(settings: Conv2dSettings, rng: &mut R) -> Result<Self> {
        let mut layer = Conv2d::zeros(settings)?;
        conv::initialise(&mut layer.weight, &mut layer.bias, layer.shape.patch, rng);
        Ok(layer)
    }

    /// A layer with `settings` whose weights and biases are all zero.
    ///
    /// # Errors
    /// As [`Conv2dSettings::output_size`], for settings PyTorch rejects.
    pub fn zeros(settings: Conv2dSettings) -> Result<Self> {
        let shape = settings.shape()?;
        let biases = if settings.bias {
            settings.out_channels
        } else {
            0
        };
        Ok(Conv2d {
            settings,
            shape,
            weight: AlignedVec::zeros(shape.weights),
            bias: AlignedVec::zeros(biases),
            weight_grad: AlignedVec::zeros(shape.weights),
            bias_grad: AlignedVec::zeros(biases),
        })
    }

    /// The settings the layer was built with.
    pub fn settings(&self) -> &Conv2dSettings {
        &self.settings
    }

    /// The output's height and width, `(H_out, W_out)`.
    pub fn output_size(&self) -> (usize, usize) {
        (self.shape.output[0], self.shape.output[1])
    }

    /// The values of one input row, `C_in·H·W`.
    pub fn input_width(&self) -> usize {
        self.shape.input_width
    }

    /// The values of one output row, `C_out·H_out·W_out`.
    pub fn output_width(&self) -> usize {
        self.shape.output_width
    }

    /// The values of workspace each pass needs for `rows` rows:
    /// `rows·P·(C_in·kh·kw + C_out) + max(rows·P, patch·(C_out/groups + 1))`, where
    /// `P = H_out·W_out` and `patch = C_in/groups · kh·kw`; none for no rows.
    ///
    /// What it holds between calls means nothing: one workspace, as long as the longest any
    /// layer needs, can serve every layer of a network (see
    /// [`Conv1d::workspace_len`](super::Conv1d::workspace_len)).
    ///
    /// # Errors
    /// [`Error::TooLarge`] when that many values overflow the address space.
    pub fn workspace_len(&self, rows: usize) -> Result<usize> {
        self.shape.workspace_len(rows)
    }

    /// The number of trainable values: the weight's `C_out·C_in/groups·kh·kw`, plus `C_out`
    /// with a bias.
    pub fn parameter_count(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    /// The weight, `[C_out, C_in/groups, kh, kw]`.
    pub fn weight(&self) -> ArrayView4<'_, f32> {
        ArrayView4::from_shape(self.weight_shape(), &self.weight[..])
            .expect("the weight holds C_out × C_in/groups × kh × kw values")
    }

    /// The weight, `[C_out, C_in/groups, kh, kw]`, for writing.
    pub fn weight_mut(&mut self) -> ArrayViewMut4<'_, f32> {
        ArrayViewMut4::from_shape(self.weight_shape(), &mut self.weight[..])
            .expect("the weight holds C_out × C_in/groups × kh × kw values")
    }

    /// The bias, `[C_out]`; `None` for a layer built without one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.settings.bias.then(|| ArrayView1::from(&self.bias[..]))
    }

    /// The bias, `[C_out]`, for writing; `None` for a layer built without one.
    pub fn bias_mut(&mut self) -> Option<ArrayViewMut1<'_, f32>> {
        self.settings
            .bias
            .then(|| ArrayViewMut1::from(&mut self.bias[..]))
    }

    /// The gradient of the weight, `[C_out, C_in/groups, kh, kw]`.
    pub fn weight_grad(&self) -> ArrayView4<'_, f32> {
        ArrayView4::from_shape(self.weight_shape(), &self.weight_grad[..])
            .expect("the gradient holds C_out × C_in/groups × kh × kw values")
    }

    /// The gradient of the bias, `[C_out]`; `None` without a bias.
    pub fn bias_grad(&self) -> Option<ArrayView1<'_, f32>> {
        self.settings
            .bias
            .then(|| ArrayView1::from(&self.bias_grad[..]))
    }

    fn weight_shape(&self) -> (usize, usize, usize, usize) {
        let (kh, kw) = self.settings.kernel_size;
        (self.settings.out_channels, self.shape.group_inputs, kh, kw)
    }

    /// The output, `rows` rows of `C_out·H_out·W_out` values (`[C_out, H_out, W_out]` each),
    /// of `rows` rows of `input` (`C_in·H·W` values, `[C_in, H, W]` each): per group,
    /// `W·columns` on the kernels' matrix product, then the bias as the result is put in
    /// PyTorch's order.
    ///
    /// `input` and `output` may be longer than `rows` rows, and `workspace` longer than
    /// [`workspace_len`](Self::workspace_len): only their beginnings are used.
    ///
    /// # Errors
    /// [`Error::Length`] when `input` or `output` holds fewer than `rows` rows of
    /// [`input_width`](Self::input_width) or [`output_width`](Self::output_width) values;
    /// [`Error::Workspace`] when `workspace` is shorter than
    /// [`workspace_len`](Self::workspace_len); [`Error::TooLarge`] when so many rows overflow
    /// the address space. Nothing is written then.
    pub fn forward(
        &self,
        rows: usize,
        input: &[f32],
        output: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let bias = self.settings.bias.then_some(&self.bias[..]);
        self.shape
            .forward(&self.weight, bias, rows, input, output, workspace)
    }

    /// Adds the gradients of the weight and the bias, given `input`, the rows the forward pass
    /// read, and `grad_output`, the gradient of the loss with respect to its output (`rows`
    /// rows each): per group, `dW = dz·columnsᵀ`, and `db = Σ dz` over every example and
    /// position.
    ///
    /// With `accumulate`, adds to the stored gradients as PyTorch's `backward()` does, until
    /// they are zeroed ([`Parameters::zero_grad`]); without, overwrites them (a training step
    /// that starts from zero gradients anyway).
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `input`, `grad_output` (as wide as an output row) and
    /// `workspace`; the gradients are unchanged then.
    pub fn backward_params(
        &mut self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        workspace: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let gradients = Gradients {
            weight: &mut self.weight_grad,
            bias: &mut self.bias_grad,
        };
        self.shape
            .backward_params(gradients, rows, input, grad_output, workspace, accumulate)
    }

    /// The gradient of the loss with respect to the input, `rows` rows of `C_in·H·W` values,
    /// written to `grad_input`, from `grad_output`: per group, `dcolumns = Wᵀ·dz`, then each
    /// column's values added back onto the inputs they were read from (col2im).
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `grad_output` (as wide as an output row),
    /// `grad_input` (as wide as an input row) and `workspace`; nothing is written then.
    pub fn backward_input(
        &self,
        rows: usize,
        grad_output: &[f32],
        grad_input: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        self.shape
            .backward_input(&self.weight, rows, grad_output, grad_input, workspace)
    }

    /// Visits `weight` then `bias` (if the layer has one) under the given names, for
    /// optimizers: what a network does for each of its layers, with names such as
    /// `conv1.weight`.
    pub fn visit_parameters_as<V: ParameterVisitor + ?Sized>(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut V,
    ) {
        visitor.visit(weight_name, &mut self.weight, &mut self.weight_grad);
        if self.settings.bias {
            visitor.visit(bias_name, &mut self.bias, &mut self.bias_grad);
        }
    }

    /// Visits `weight` (`[C_out, C_in/groups, kh, kw]`) then `bias` (`[C_out]`, if the layer
    /// has one) read-only under the given names, for saving.
    pub fn visit_tensors_as(
        &self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitor<'_>,
    ) {
        let (out, group_inputs, kh, kw) = self.weight_shape();
        visitor(weight_name, &[out, group_inputs, kh, kw], &self.weight);
        if self.settings.bias {
            visitor(bias_name, &[out], &self.bias);
        }
    }

    /// Visits `weight` then `bias` for writing, for loading; shapes as in
    /// [`visit_tensors_as`](Self::visit_tensors_as).
    pub fn visit_tensors_mut_as(
        &mut self,
        weight_name: &str,
        bias_name: &str,
        visitor: &mut TensorVisitorMut<'_>,
    ) {
        let (out, group_inputs, kh, kw) = self.weight_shape();
        visitor(weight_name, &[out, group_inputs, kh, kw], &mut self.weight);
        if self.settings.bias {
            visitor(bias_name, &[out], &mut self.bias);
        }
    }
}

/// A lone layer's parameters under PyTorch's names for a lone `Conv2d`: `weight`, `bias`.
impl Parameters for Conv2d {
    fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
        self.visit_parameters_as("weight", "bias", visitor);
    }
}

/// A lone layer's tensors, as PyTorch's `state_dict()` of a lone `Conv2d` names them:
/// `weight`, `bias`.
impl NamedTensors for Conv2d {
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.visit_tensors_as("weight", "bias", visitor);
    }

    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
        self.visit_tensors_mut_as("weight", "bias", visitor);
    }
}
