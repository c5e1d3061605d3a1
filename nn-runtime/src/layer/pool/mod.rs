//! Pooling over windows, PyTorch's `torch.nn.MaxPool1d`, `MaxPool2d`, `AvgPool1d` and
//! `AvgPool2d` (`ceil_mode=False`, no dilation): the windows, in two dimensions (a
//! one-dimensional pooling is the case of an input one row high), and the max pools (here),
//! the average pools (`average.rs`), the entry points of generated code (`generated.rs`), and
//! the tests against PyTorch (`tests.rs`).

mod average;
mod generated;
mod global_average;
#[cfg(test)]
mod tests;

use std::ops::Range;

use super::conv::{invalid, positive};
use super::{rows_of, rows_of_mut};
// Named only by the documentation's links and the tests.
#[cfg(any(doc, test))]
use crate::error::Error;
use crate::error::Result;
use crate::size;
pub use average::{AvgPool1d, AvgPool2d};
#[doc(hidden)]
pub use generated::{
    avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, pool_backward, pool_forward, PoolPasses,
};
pub use global_average::{global_avg_pool, GlobalAvgPool};

/// A one-dimensional max pooling, PyTorch's `torch.nn.MaxPool1d(kernel_size, stride,
/// padding)`: output `t` of each channel is the largest of the `kernel_size` samples from
/// `t·stride − padding` on, padding counting as −∞.
///
/// A row of a batch is one example in PyTorch's contiguous order (`[C, L]`), `C·L` values
/// wide; an output row is `[C, L_out]`, with `L_out = (L + 2·padding − kernel_size) / stride +
/// 1`. As in PyTorch, a NaN in a window makes its output NaN, and the gradient of each output
/// goes to the first largest value of its window, or to the window's last NaN.
///
/// The passes allocate nothing; the backward pass finds each window's largest value again in
/// the input rather than keeping its position.
///
/// ```
/// use nn_runtime::MaxPool1d;
///
/// let pool = MaxPool1d::new(1, 6, 2, 2, 0)?;
/// assert_eq!((pool.output_length(), pool.output_width()), (3, 3));
/// let input = [1.0, 3.0, 2.0, 2.0, -1.0, 0.0];
/// let mut output = [0.0; 3];
/// pool.forward(1, &input, &mut output)?;
/// assert_eq!(output, [3.0, 2.0, 0.0]);
///
/// // Each output's gradient goes to its window's largest input: the first, on a tie.
/// let mut grad_input = [f32::NAN; 6];
/// pool.backward(1, &input, &[10.0, 20.0, 30.0], &mut grad_input)?;
/// assert_eq!(grad_input, [0.0, 10.0, 20.0, 0.0, 0.0, 30.0]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPool1d {
    windows: Windows,
}

impl MaxPool1d {
    /// `MaxPool1d(kernel_size, stride, padding)` on inputs of `channels` channels of `length`
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
            &NAMES_1D,
        )?;
        Ok(MaxPool1d { windows })
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
        self.windows.max_forward(rows, input, output)
    }

    /// The gradient of the loss with respect to the input, written whole to `grad_input`
    /// (`rows` rows of `C·L` values): each output's gradient, from `grad_output`, added to the
    /// input its window took, found again in `input`, the rows the forward pass read; zero
    /// for inputs no window took.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `input`, `grad_output` (as wide as an output row)
    /// and `grad_input` (as wide as an input row); nothing is written then.
    pub fn backward(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        self.windows
            .max_backward(rows, input, grad_output, grad_input)
    }
}

/// A two-dimensional max pooling, PyTorch's `torch.nn.MaxPool2d(kernel_size, stride,
/// padding)` with a square kernel: output `(y, x)` of each channel is the largest of the
/// `kernel_size × kernel_size` values from `(y·stride − padding, x·stride − padding)` on,
/// padding counting as −∞.
///
/// A row of a batch is one example in PyTorch's contiguous order (`[C, H, W]`), `C·H·W` values
/// wide; an output row is `[C, H_out, W_out]`, each `(size + 2·padding − kernel_size) / stride +
/// 1`. Ties, NaN and the passes are as [`MaxPool1d`]'s; windows are scanned row by row.
///
/// ```
/// use nn_runtime::MaxPool2d;
///
/// // LeNet's pooling: `MaxPool2d(2, 2)` on 6 channels of 28 × 28.
/// let pool = MaxPool2d::new(6, 28, 28, 2, 2, 0)?;
/// assert_eq!(pool.output_size(), (14, 14));
/// assert_eq!((pool.input_width(), pool.output_width()), (6 * 784, 6 * 196));
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPool2d {
    windows: Windows,
}

impl MaxPool2d {
    /// `MaxPool2d(kernel_size, stride, padding)` on inputs of `channels` channels of
    /// `height × width` values. PyTorch's default stride is the kernel size: pass it.
    ///
    /// # Errors
    /// As [`MaxPool1d::new`], along either axis.
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
            &NAMES_2D,
        )?;
        Ok(MaxPool2d { windows })
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
    /// As [`MaxPool1d::forward`].
    pub fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.windows.max_forward(rows, input, output)
    }

    /// The gradient of the loss with respect to the input, written whole to `grad_input`;
    /// see [`MaxPool1d::backward`].
    ///
    /// # Errors
    /// As [`MaxPool1d::backward`].
    pub fn backward(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        self.windows
            .max_backward(rows, input, grad_output, grad_input)
    }
}

/// The settings' names in errors.
struct Names {
    channels: &'static str,
    kernel_size: &'static str,
    stride: &'static str,
    padding: &'static str,
    settings: &'static str,
    /// Each axis of the input, and the extent in messages (`length`).
    input: [(&'static str, &'static str); 2],
}

/// The names of a one-dimensional pooling's settings, `layer` its PyTorch name. The height is
/// always 1, so its name never shows.
macro_rules! names_1d {
    ($layer:literal) => {
        Names {
            channels: concat!($layer, " channels"),
            kernel_size: concat!($layer, " kernel_size"),
            stride: concat!($layer, " stride"),
            padding: concat!($layer, " padding"),
            settings: concat!($layer, " settings"),
            input: [(concat!($layer, " input length"), "length"); 2],
        }
    };
}

/// The names of a two-dimensional pooling's settings.
macro_rules! names_2d {
    ($layer:literal) => {
        Names {
            channels: concat!($layer, " channels"),
            kernel_size: concat!($layer, " kernel_size"),
            stride: concat!($layer, " stride"),
            padding: concat!($layer, " padding"),
            settings: concat!($layer, " settings"),
            input: [
                (concat!($layer, " input height"), "height"),
                (concat!($layer, " input width"), "width"),
            ],
        }
    };
}

const NAMES_1D: Names = names_1d!("MaxPool1d");
const NAMES_2D: Names = names_2d!("MaxPool2d");
const AVG_NAMES_1D: Names = names_1d!("AvgPool1d");
const AVG_NAMES_2D: Names = names_2d!("AvgPool2d");

/// The windows of a pooling in two dimensions, axis 0 the height and axis 1 the width, with
/// the sizes that follow, checked when built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Windows {
    channels: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    output: [usize; 2],
    /// `C·H·W`.
    input_width: usize,
    /// `C·H_out·W_out`.
    output_width: usize,
}

impl Windows {
    fn new(
        channels: usize,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        names: &Names,
    ) -> Result<Self> {
        positive(names.channels, channels)?;
        for ((setting, _), size) in names.input.iter().zip(input) {
            positive(setting, size)?;
        }
        for size in kernel {
            positive(names.kernel_size, size)?;
        }
        for step in stride {
            positive(names.stride, step)?;
        }
        let overflow = || {
            invalid(
                names.settings,
                "the layer's sizes overflow the address space".to_owned(),
            )
        };
        let extent = |axis: usize| {
            let (kernel, padding) = (kernel[axis], padding[axis]);
            // A wider padding would let a window lie wholly in it, with no input to take.
            if padding > kernel / 2 {
                return Err(invalid(
                    names.padding,
                    format!("must be at most half the kernel size ({kernel}), found {padding}"),
                ));
            }
            let padded = padding
                .checked_mul(2)
                .and_then(|padding| padding.checked_add(input[axis]))
                .ok_or_else(overflow)?;
            if kernel > padded {
                let (setting, extent) = names.input[axis];
                return Err(invalid(
                    setting,
                    format!(
                        "the kernel spans {kernel}, more than the {padded} of the padded input \
                         ({extent} + 2·padding): the output would be empty"
                    ),
                ));
            }
            Ok((padded - kernel) / stride[axis] + 1)
        };
        let output = [extent(0)?, extent(1)?];
        let width = |sizes: [usize; 2]| {
            let plane = size::checked_values(sizes[0], sizes[1]).ok()?;
            size::checked_values(channels, plane).ok()
        };
        Ok(Windows {
            channels,
            input,
            kernel,
            stride,
            padding,
            output,
            input_width: width(input).ok_or_else(overflow)?,
            output_width: width(output).ok_or_else(overflow)?,
        })
    }

    /// The inputs along `axis` that the window of output `t` covers, without the padding.
    fn span(&self, axis: usize, t: usize) -> Range<usize> {
        // No overflow: the window ends inside the padded input, whose size was checked.
        let start = t * self.stride[axis];
        let end = (start + self.kernel[axis] - self.padding[axis]).min(self.input[axis]);
        start.saturating_sub(self.padding[axis])..end
    }

    /// Calls `visit(output, rows, columns)` with the position of every output of one channel
    /// and the rows and columns of the input its window covers, without the padding.
    fn for_each_span(&self, mut visit: impl FnMut(usize, Range<usize>, Range<usize>)) {
        let [out_height, out_width] = self.output;
        for y in 0..out_height {
            let rows = self.span(0, y);
            for x in 0..out_width {
                visit(y * out_width + x, rows.clone(), self.span(1, x));
            }
        }
    }

    /// Calls `take(output, input)` with the position of every output of one channel and that
    /// of the input its window takes, both within the channel: the first largest value in
    /// scan order, or the last NaN, as PyTorch's CPU kernel chooses.
    fn for_each_largest(&self, plane: &[f32], mut take: impl FnMut(usize, usize)) {
        if self.padding == [0, 0] {
            return self.for_each_unpadded_largest(plane, take);
        }
        let width = self.input[1];
        self.for_each_span(|output, rows, columns| {
            let mut taken = rows.start * width + columns.start;
            let mut largest = f32::NEG_INFINITY;
            for row in rows {
                let line = row * width + columns.start;
                for (i, &value) in plane[line..line + columns.len()].iter().enumerate() {
                    // Selects rather than branches: which value wins is data, and a
                    // mispredicted branch per comparison costs more than the comparison.
                    let wins = value > largest || value.is_nan();
                    largest = if wins { value } else { largest };
                    taken = if wins { line + i } else { taken };
                }
            }
            take(output, taken);
        });
    }

    /// The max pools' forward pass.
    fn max_forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let output = rows_of_mut(output, rows, self.output_width)?;
        let (plane, out_plane) = self.planes();
        for (plane, out) in input
            .chunks_exact(plane)
            .zip(output.chunks_exact_mut(out_plane))
        {
            self.for_each_largest(plane, |o, i| out[o] = plane[i]);
        }
        Ok(())
    }

    /// The max pools' backward pass.
    fn max_backward(
        &self,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let grad_input = rows_of_mut(grad_input, rows, self.input_width)?;
        grad_input.fill(0.0);
        let (plane, out_plane) = self.planes();
        let planes = input
            .chunks_exact(plane)
            .zip(grad_output.chunks_exact(out_plane))
            .zip(grad_input.chunks_exact_mut(plane));
        for ((plane, grad_out), grad_in) in planes {
            // Windows overlap when the stride is shorter than the kernel: an input can be
            // taken by several.
            self.for_each_largest(plane, |o, i| grad_in[i] += grad_out[o]);
        }
        Ok(())
    }

    /// [`for_each_largest`](Self::for_each_largest) without padding, where every window lies
    /// inside the input: no clipping to compute, and a 2 × 2 window (the common one) read as
    /// four values.
    #[inline(always)]
    fn for_each_unpadded_largest(&self, plane: &[f32], mut take: impl FnMut(usize, usize)) {
        let [out_height, out_width] = self.output;
        let [kernel_height, kernel_width] = self.kernel;
        let [stride_y, stride_x] = self.stride;
        let width = self.input[1];
        let pick = |largest: f32, taken: usize, value: f32, at: usize| {
            // Selects rather than branches: which value wins is data.
            let wins = value > largest || value.is_nan();
            (
                if wins { value } else { largest },
                if wins { at } else { taken },
            )
        };
        for y in 0..out_height {
            let top = y * stride_y * width;
            for x in 0..out_width {
                let start = top + x * stride_x;
                let (mut largest, mut taken) = (f32::NEG_INFINITY, start);
                if (kernel_height, kernel_width) == (2, 2) {
                    let (upper, lower) = (
                        &plane[start..start + 2],
                        &plane[start + width..start + width + 2],
                    );
                    for (value, at) in [
                        (upper[0], start),
                        (upper[1], start + 1),
                        (lower[0], start + width),
                        (lower[1], start + width + 1),
                    ] {
                        (largest, taken) = pick(largest, taken, value, at);
                    }
                } else {
                    for row in 0..kernel_height {
                        let line = start + row * width;
                        for (i, &value) in plane[line..line + kernel_width].iter().enumerate() {
                            (largest, taken) = pick(largest, taken, value, line + i);
                        }
                    }
                }
                take(y * out_width + x, taken);
            }
        }
    }

    /// The values of one channel of the input, `H·W`, and of the output, `H_out·W_out`.
    fn planes(&self) -> (usize, usize) {
        (
            self.input_width / self.channels,
            self.output_width / self.channels,
        )
    }
}
