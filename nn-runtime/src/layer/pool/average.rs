//! Average pooling, PyTorch's `torch.nn.AvgPool1d` and `AvgPool2d` with their defaults
//! (`ceil_mode=False`, `count_include_pad=True`): the layers and their passes over the
//! windows the max pools use.

use super::{Windows, AVG_NAMES_1D, AVG_NAMES_2D};
use crate::error::Result;
// Named only by the documentation's links.
#[cfg(doc)]
use crate::error::Error;
use crate::layer::{rows_of, rows_of_mut};

/// A one-dimensional average pooling, PyTorch's `torch.nn.AvgPool1d(kernel_size, stride,
/// padding)`: output `t` of each channel is the mean of the `kernel_size` samples from
/// `t·stride − padding` on, padding counting as zeros.
///
/// A row of a batch is one example in PyTorch's contiguous order (`[C, L]`), `C·L` values
/// wide; an output row is `[C, L_out]`, with `L_out = (L + 2·padding − kernel_size) / stride +
/// 1`. As PyTorch's default `count_include_pad=True`, every window is divided by
/// `kernel_size`, however much of it lies in the padding; each sample of a window receives
/// the window's gradient over `kernel_size`.
///
/// The passes allocate nothing, and the backward pass does not read the input.
///
/// ```
/// use nn_runtime::AvgPool1d;
///
/// let pool = AvgPool1d::new(1, 6, 2, 2, 0)?;
/// assert_eq!((pool.output_length(), pool.output_width()), (3, 3));
/// let input = [1.0, 3.0, 2.0, 2.0, -1.0, 0.0];
/// let mut output = [0.0; 3];
/// pool.forward(1, &input, &mut output)?;
/// assert_eq!(output, [2.0, 2.0, -0.5]);
///
/// // Each output's gradient is shared equally by its window's inputs.
/// let mut grad_input = [f32::NAN; 6];
/// pool.backward(1, &[10.0, 20.0, 30.0], &mut grad_input)?;
/// assert_eq!(grad_input, [5.0, 5.0, 10.0, 10.0, 15.0, 15.0]);
///
/// // Padding counts in the divisor: the first window is [0, 1, 3], whose mean is 4 / 3.
/// let padded = AvgPool1d::new(1, 6, 3, 3, 1)?;
/// let mut output = [0.0; 2];
/// padded.forward(1, &input, &mut output)?;
/// assert_eq!(output, [4.0 / 3.0, 1.0]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvgPool1d {
    pub(super) windows: Windows,
}

impl AvgPool1d {
    /// `AvgPool1d(kernel_size, stride, padding)` on inputs of `channels` channels of `length`
    /// samples. PyTorch's default stride is the kernel size: pass it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero kernel size or stride, padding over half the
    /// kernel size (PyTorch refuses it), no channels or samples, a kernel longer than the
    /// padded input (an empty output), and sizes that overflow the address space.
    pub fn new(
        channels: usize,
        length: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let windows = Windows::new(
            channels,
            [1, length],
            [1, kernel_size],
            [1, stride],
            [0, padding],
            &AVG_NAMES_1D,
        )?;
        Ok(AvgPool1d { windows })
    }

    /// The output length `L_out`.
    pub fn output_length(&self) -> usize {
        self.windows.output[1]
    }

    /// The values of one input row, `C·L`.
    pub fn input_width(&self) -> usize {
        self.windows.input_width
    }

    /// The values of one output row, `C·L_out`.
    pub fn output_width(&self) -> usize {
        self.windows.output_width
    }

    /// The output, `rows` rows of `C·L_out` values, of `rows` rows of `input` (`C·L` values
    /// each). Longer buffers are used in part.
    ///
    /// # Errors
    /// [`Error::Length`] when `input` or `output` holds fewer than `rows` rows of
    /// [`input_width`](Self::input_width) or [`output_width`](Self::output_width) values;
    /// [`Error::TooLarge`] when so many rows overflow the address space. Nothing is written
    /// then.
    pub fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.windows.average_forward(rows, input, output)
    }

    /// The gradient of the loss with respect to the input, written whole to `grad_input`
    /// (`rows` rows of `C·L` values): each output's gradient, from `grad_output`, divided by
    /// the kernel size and added to every input its window covers; zero for inputs no window
    /// covers.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `grad_output` (as wide as an output row) and
    /// `grad_input` (as wide as an input row); nothing is written then.
    pub fn backward(&self, rows: usize, grad_output: &[f32], grad_input: &mut [f32]) -> Result<()> {
        self.windows.average_backward(rows, grad_output, grad_input)
    }
}

/// A two-dimensional average pooling, PyTorch's `torch.nn.AvgPool2d(kernel_size, stride,
/// padding)` with a square kernel: output `(y, x)` of each channel is the mean of the
/// `kernel_size × kernel_size` values from `(y·stride − padding, x·stride − padding)` on,
/// padding counting as zeros.
///
/// A row of a batch is one example in PyTorch's contiguous order (`[C, H, W]`), `C·H·W` values
/// wide; an output row is `[C, H_out, W_out]`, each `(size + 2·padding − kernel_size) / stride +
/// 1`. The divisor is always `kernel_size²` (`count_include_pad=True`), and the passes are as
/// [`AvgPool1d`]'s; windows are summed row by row.
///
/// ```
/// use nn_runtime::AvgPool2d;
///
/// // `AvgPool2d(2)` on one channel of 2 × 4: two windows, side by side.
/// let pool = AvgPool2d::new(1, 2, 4, 2, 2, 0)?;
/// assert_eq!(pool.output_size(), (1, 2));
/// let mut output = [0.0; 2];
/// pool.forward(1, &[1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 7.0, 8.0], &mut output)?;
/// assert_eq!(output, [2.5, 6.5]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvgPool2d {
    pub(super) windows: Windows,
}

impl AvgPool2d {
    /// `AvgPool2d(kernel_size, stride, padding)` on inputs of `channels` channels of
    /// `height × width` values. PyTorch's default stride is the kernel size: pass it.
    ///
    /// # Errors
    /// As [`AvgPool1d::new`], along either axis.
    pub fn new(
        channels: usize,
        height: usize,
        width: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let windows = Windows::new(
            channels,
            [height, width],
            [kernel_size; 2],
            [stride; 2],
            [padding; 2],
            &AVG_NAMES_2D,
        )?;
        Ok(AvgPool2d { windows })
    }

    /// The output's height and width, `(H_out, W_out)`.
    pub fn output_size(&self) -> (usize, usize) {
        (self.windows.output[0], self.windows.output[1])
    }

    /// The values of one input row, `C·H·W`.
    pub fn input_width(&self) -> usize {
        self.windows.input_width
    }

    /// The values of one output row, `C·H_out·W_out`.
    pub fn output_width(&self) -> usize {
        self.windows.output_width
    }

    /// The output, `rows` rows of `C·H_out·W_out` values, of `rows` rows of `input`
    /// (`C·H·W` values each). Longer buffers are used in part.
    ///
    /// # Errors
    /// As [`AvgPool1d::forward`].
    pub fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.windows.average_forward(rows, input, output)
    }

    /// The gradient of the loss with respect to the input, written whole to `grad_input`;
    /// see [`AvgPool1d::backward`].
    ///
    /// # Errors
    /// As [`AvgPool1d::backward`].
    pub fn backward(&self, rows: usize, grad_output: &[f32], grad_input: &mut [f32]) -> Result<()> {
        self.windows.average_backward(rows, grad_output, grad_input)
    }
}

impl Windows {
    /// What each window is divided by: the kernel's area, padding included. In `f64` first,
    /// so that a kernel whose area overflows `usize` cannot panic; PyTorch converts its
    /// integer area to `f32` the same way.
    fn area(&self) -> f32 {
        (self.kernel[0] as f64 * self.kernel[1] as f64) as f32
    }

    /// The average pools' forward pass: each window's sum, in scan order as PyTorch's CPU
    /// kernel adds, divided by [`area`](Self::area).
    fn average_forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let output = rows_of_mut(output, rows, self.output_width)?;
        let (plane, out_plane) = self.planes();
        let (width, area) = (self.input[1], self.area());
        for (plane, out) in input
            .chunks_exact(plane)
            .zip(output.chunks_exact_mut(out_plane))
        {
            self.for_each_span(|o, rows, columns| {
                let mut sum = 0.0;
                for row in rows {
                    let line = row * width;
                    for &value in &plane[line + columns.start..line + columns.end] {
                        sum += value;
                    }
                }
                out[o] = sum / area;
            });
        }
        Ok(())
    }

    /// The average pools' backward pass: each output's gradient over the area, added to every
    /// input its window covers (PyTorch divides first too, so the sums agree).
    fn average_backward(
        &self,
        rows: usize,
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let grad_input = rows_of_mut(grad_input, rows, self.input_width)?;
        grad_input.fill(0.0);
        let (plane, out_plane) = self.planes();
        let (width, area) = (self.input[1], self.area());
        for (grad_out, grad_in) in grad_output
            .chunks_exact(out_plane)
            .zip(grad_input.chunks_exact_mut(plane))
        {
            // Windows overlap when the stride is shorter than the kernel: an input can be
            // covered by several.
            self.for_each_span(|o, rows, columns| {
                let share = grad_out[o] / area;
                for row in rows {
                    let line = row * width;
                    for value in &mut grad_in[line + columns.start..line + columns.end] {
                        *value += share;
                    }
                }
            });
        }
        Ok(())
    }
}
