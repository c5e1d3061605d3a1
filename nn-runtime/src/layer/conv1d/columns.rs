//! The rearrangements that turn a convolution into matrix products: the input into columns
//! (im2col) and the columns' gradient back onto the input (col2im), and the outputs between
//! PyTorch's example-major order and the products' channel-major one.
//!
//! For a batch of `N` rows and `M = N·L_out` output positions, each group `g` has
//! * its columns, `[patch, M]` with `patch = C_in/groups · k`: row `c·k + j` holds, at
//!   `n·L_out + t`, the sample that tap `j` of the group's input channel `c` meets at output
//!   `t` of example `n`, or zero where the tap falls in the padding;
//! * its outputs, `[C_out/groups, M]`: output channel `o` of the group, at `n·L_out + t`.
//!
//! Then the group's output is one product, `outputs = W·columns`, of its filters
//! (`[C_out/groups, patch]`, contiguous in PyTorch's weight layout) by its columns; the
//! positions of the whole batch are the product's long side, which the kernels' tiles fill.
//! Groups follow each other, so each group's matrices are contiguous too.

use super::settings::{Conv1dSettings, Shape};

/// The dimensions the rearrangements need.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    length: usize,
    kernel_size: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
    output_length: usize,
    group_inputs: usize,
    input_width: usize,
    output_width: usize,
}

/// Which output positions one tap reads the input at; see [`Geometry::reads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reads {
    /// Positions `0..before` fall in the left padding.
    before: usize,
    /// Positions `before..before + count` read the input, from `sample` on, `stride` apart;
    /// the rest fall in the right padding.
    count: usize,
    /// The sample read at position `before` (0 when `count` is 0).
    sample: usize,
}

impl Geometry {
    pub(super) fn new(settings: &Conv1dSettings, shape: &Shape) -> Self {
        Geometry {
            length: settings.length,
            kernel_size: settings.kernel_size,
            stride: settings.stride,
            padding: settings.padding,
            dilation: settings.dilation,
            groups: settings.groups,
            output_length: shape.output_length,
            group_inputs: shape.group_inputs,
            input_width: shape.input_width,
            output_width: shape.output_width,
        }
    }

    /// The output positions `t` at which tap `j` reads a sample, `t·stride + j·dilation −
    /// padding`, inside `0..length`.
    fn reads(&self, j: usize) -> Reads {
        // Where the tap lies in the padded input at position 0. No overflow: it is below
        // `L + 2·padding`, which was checked when the layer was built.
        let offset = j * self.dilation;
        let before = self
            .padding
            .saturating_sub(offset)
            .div_ceil(self.stride)
            .min(self.output_length);
        let end = (self.padding + self.length)
            .saturating_sub(offset)
            .div_ceil(self.stride)
            .clamp(before, self.output_length);
        let sample = if before < end {
            before * self.stride + offset - self.padding
        } else {
            0
        };
        Reads {
            before,
            count: end - before,
            sample,
        }
    }

    /// The columns of `rows` rows of `input` (`[C_in, L]` each), group after group, into
    /// `columns` (`groups × patch × rows·L_out` values).
    pub(super) fn im2col(&self, rows: usize, input: &[f32], columns: &mut [f32]) {
        let (lo, k, stride) = (self.output_length, self.kernel_size, self.stride);
        let group_input = self.group_inputs * self.length;
        // One row of columns per input channel and tap, `L_out` values per example.
        let mut rows_of_columns = columns.chunks_exact_mut(rows * lo);
        for g in 0..self.groups {
            for c in 0..self.group_inputs {
                let channel = g * group_input + c * self.length;
                for j in 0..k {
                    let row = rows_of_columns.next().expect("columns for every tap");
                    let Reads {
                        before,
                        count,
                        sample,
                    } = self.reads(j);
                    if count < lo {
                        // The positions in the padding, at the same places in every example's
                        // part of the row: one fill, rather than a short one per example.
                        row.fill(0.0);
                    }
                    let examples = input.chunks_exact(self.input_width);
                    for (example, positions) in examples.zip(row.chunks_exact_mut(lo)) {
                        let inside = &mut positions[before..before + count];
                        let samples = &example[channel + sample..];
                        if stride == 1 {
                            inside.copy_from_slice(&samples[..count]);
                        } else {
                            for (value, &x) in inside.iter_mut().zip(samples.iter().step_by(stride))
                            {
                                *value = x;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The gradient with respect to `rows` rows of input, from the gradient of their columns
    /// (laid out as [`im2col`](Self::im2col) writes them): each sample receives the sum of
    /// the values of every tap that read it. Padding receives nothing.
    pub(super) fn col2im(&self, rows: usize, columns: &[f32], input_grad: &mut [f32]) {
        let (lo, k, stride) = (self.output_length, self.kernel_size, self.stride);
        let input_grad = &mut input_grad[..rows * self.input_width];
        input_grad.fill(0.0);
        let group_input = self.group_inputs * self.length;
        let mut rows_of_columns = columns.chunks_exact(rows * lo);
        for g in 0..self.groups {
            for c in 0..self.group_inputs {
                let channel = g * group_input + c * self.length;
                for j in 0..k {
                    let row = rows_of_columns.next().expect("columns for every tap");
                    let Reads {
                        before,
                        count,
                        sample,
                    } = self.reads(j);
                    let examples = input_grad.chunks_exact_mut(self.input_width);
                    for (example, positions) in examples.zip(row.chunks_exact(lo)) {
                        let inside = &positions[before..before + count];
                        let samples = &mut example[channel + sample..];
                        for (grad, &value) in samples.iter_mut().step_by(stride).zip(inside) {
                            *grad += value;
                        }
                    }
                }
            }
        }
    }

    /// The products' outputs (`groups × C_out/groups × rows·L_out`) into PyTorch's order,
    /// `rows` rows of `[C_out, L_out]`, adding `bias[o]` to output channel `o` (if any).
    pub(super) fn write_outputs(
        &self,
        rows: usize,
        products: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
    ) {
        let lo = self.output_length;
        for (o, channel) in products.chunks_exact(rows * lo).enumerate() {
            let bias = bias.map_or(0.0, |bias| bias[o]);
            let examples = output.chunks_exact_mut(self.output_width);
            for (example, values) in examples.zip(channel.chunks_exact(lo)) {
                for (out, &value) in example[o * lo..][..lo].iter_mut().zip(values) {
                    *out = value + bias;
                }
            }
        }
    }

    /// The inverse of [`write_outputs`](Self::write_outputs), without bias: `rows` rows of
    /// `[C_out, L_out]` (the gradient of the output) into the products' order.
    pub(super) fn read_outputs(&self, rows: usize, output: &[f32], products: &mut [f32]) {
        let lo = self.output_length;
        for (o, channel) in products.chunks_exact_mut(rows * lo).enumerate() {
            let examples = output.chunks_exact(self.output_width);
            for (example, values) in examples.zip(channel.chunks_exact_mut(lo)) {
                values.copy_from_slice(&example[o * lo..][..lo]);
            }
        }
    }
}

/// `Σ values`, in eight interleaved partial sums: a loop the compiler can vectorise, and
/// rounding errors that grow with an eighth of the length.
pub(super) fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += value;
        }
    }
    lanes.iter().sum::<f32>() + rest
}
