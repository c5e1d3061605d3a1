//! The rearrangements that turn a convolution into matrix products: the input into columns
//! (im2col) and the columns' gradient back onto the input (col2im), and the outputs between
//! PyTorch's example-major order and the products' channel-major one.
//!
//! For a batch of `N` rows, `P = H_out·W_out` output positions per channel and `M = N·P`
//! positions in all, each group `g` has
//! * its columns, `[patch, M]` with `patch = C_in/groups · kh·kw`: row `(c·kh + i)·kw + j`
//!   holds, at `n·P + y·W_out + x`, the value that tap `(i, j)` of the group's input channel
//!   `c` meets at output `(y, x)` of example `n`, or zero where the tap falls in the padding;
//! * its outputs, `[C_out/groups, M]`: output channel `o` of the group, at `n·P + y·W_out + x`.
//!
//! Then the group's output is one product, `outputs = W·columns`, of its filters
//! (`[C_out/groups, patch]`, contiguous in PyTorch's weight layout) by its columns; the
//! positions of the whole batch are the product's long side, which the kernels' tiles fill.
//! Groups follow each other, so each group's matrices are contiguous too.

use super::shape::Shape;

/// Which outputs along one axis one tap reads the input at; see [`reads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reads {
    /// Outputs `0..before` fall in the leading padding.
    before: usize,
    /// Outputs `before..before + count` read the input, from `first` on, `stride` apart; the
    /// rest fall in the trailing padding.
    count: usize,
    /// The input read at output `before` (0 when `count` is 0).
    first: usize,
}

impl Reads {
    /// Where the first run of a tap's values lies, for `self` its vertical reads and
    /// `horizontal` its horizontal ones: its first output in an example's part of a row of
    /// columns, and its first input in the example's row of input, `offset` being where the
    /// tap's first horizontal read of the channel's row 0 lies.
    fn start(
        &self,
        horizontal: Reads,
        out_width: usize,
        offset: usize,
        width: usize,
    ) -> (usize, usize) {
        (
            self.before * out_width + horizontal.before,
            offset + self.first * width,
        )
    }
}

/// The outputs `t` along `axis` at which tap `tap` reads the input, `t·stride + tap·dilation −
/// padding`, inside `0..input`.
fn reads(shape: &Shape, axis: usize, tap: usize) -> Reads {
    let spec = &shape.spec;
    let (stride, padding, outputs) = (spec.stride[axis], spec.padding[axis], shape.output[axis]);
    // Where the tap lies in the padded input at output 0. No overflow: it is below
    // `input + 2·padding`, which was checked when the layer was built.
    let offset = tap * spec.dilation[axis];
    let before = padding.saturating_sub(offset).div_ceil(stride).min(outputs);
    let end = (padding + spec.input[axis])
        .saturating_sub(offset)
        .div_ceil(stride)
        .clamp(before, outputs);
    let first = if before < end {
        before * stride + offset - padding
    } else {
        0
    };
    Reads {
        before,
        count: end - before,
        first,
    }
}

/// Calls `visit(tap, vertical, horizontal)` for every tap of a filter, `tap = i·kw + j`, with
/// the outputs it reads along each axis: once per pass, as finding them takes divisions.
fn for_each_tap(shape: &Shape, mut visit: impl FnMut(usize, Reads, Reads)) {
    let [kh, kw] = shape.spec.kernel;
    for i in 0..kh {
        let vertical = reads(shape, 0, i);
        for j in 0..kw {
            visit(i * kw + j, vertical, reads(shape, 1, j));
        }
    }
}

/// The columns of `rows` rows of `input` (`[C_in, H, W]` each), group after group, into
/// `columns` (`groups × patch × rows·P` values).
pub(super) fn im2col(shape: &Shape, rows: usize, input: &[f32], columns: &mut [f32]) {
    let [height, width] = shape.spec.input;
    let [out_height, out_width] = shape.output;
    let [stride_y, stride_x] = shape.spec.stride;
    let plane = height * width;
    // One row of columns per input channel and tap, `P` values per example: row
    // `c·kh·kw + tap`.
    let length = rows * shape.positions;
    let taps = shape.spec.kernel[0] * shape.spec.kernel[1];
    for_each_tap(shape, |tap, vertical, horizontal| {
        for channel in 0..shape.spec.in_channels {
            let row = &mut columns[(channel * taps + tap) * length..][..length];
            let channel = channel * plane;
            let padded = vertical.count < out_height || horizontal.count < out_width;
            // A stride-1 convolution whose output is as wide as its input ("same" padding
            // along the width) reads, for each tap, one block of the input.
            let one_block = stride_x == 1 && stride_y == 1 && out_width == width;
            if padded && !one_block {
                // Outputs in the padding, at the same places in every example's part of the
                // row: one fill, rather than short ones per example and output row.
                row.fill(0.0);
            }
            // Example by example, then output row by output row, each a run of the input
            // row it reads.
            let (start, first) =
                vertical.start(horizontal, out_width, channel + horizontal.first, width);
            if one_block {
                let block = Block {
                    rows: vertical.count,
                    len: horizontal.count,
                    to: start,
                    from: first,
                    width,
                };
                let examples = input.chunks_exact(shape.input_width);
                for (example, positions) in examples.zip(row.chunks_exact_mut(shape.positions)) {
                    copy_block(&block, example, positions);
                }
            } else {
                let runs = Runs {
                    rows: vertical.count,
                    len: horizontal.count,
                    to: (start, out_width, shape.positions),
                    from: (first, stride_y * width, shape.input_width),
                    stride: stride_x,
                    padded,
                };
                copy_runs(&runs, rows, input, row);
            }
        }
    });
}

/// The runs of one example's input that a tap of a stride-1 convolution reads, when its
/// output is as wide as its input: the runs of consecutive output rows are one row of input
/// apart, as they are one row of output apart, so they lie in one block of the input.
struct Block {
    /// Output rows that read the input.
    rows: usize,
    /// Values each reads.
    len: usize,
    /// Where the first run goes in the example's part of the row of columns.
    to: usize,
    /// Where the first run is read in the example's input.
    from: usize,
    /// The input's and the output's width.
    width: usize,
}

/// Copies `block` from `example` into `positions`, whole, then zeroes what falls in the
/// padding: the outputs before its first run and after its last, and between runs, where the
/// block holds the input's ends of rows that the tap does not read.
fn copy_block(block: &Block, example: &[f32], positions: &mut [f32]) {
    let Some(last) = block.rows.checked_sub(1).filter(|_| block.len > 0) else {
        positions.fill(0.0);
        return;
    };
    let len = last * block.width + block.len;
    let end = block.to + len;
    positions[block.to..end].copy_from_slice(&example[block.from..][..len]);
    positions[..block.to].fill(0.0);
    positions[end..].fill(0.0);
    if block.len < block.width {
        for r in 0..last {
            let gap = block.to + r * block.width + block.len;
            zero_few(&mut positions[gap..gap + block.width - block.len]);
        }
    }
}

/// `values.fill(0.0)` for the few values of padding between two runs, a padding's width or
/// two: stores written out, where `fill` calls `memset`, which costs more than the stores.
#[inline(always)]
fn zero_few(values: &mut [f32]) {
    match values {
        [] => {}
        [a] => *a = 0.0,
        [a, b] => [*a, *b] = [0.0; 2],
        [a, b, c] => [*a, *b, *c] = [0.0; 3],
        [a, b, c, d] => [*a, *b, *c, *d] = [0.0; 4],
        _ => values.fill(0.0),
    }
}

/// The runs of the input that a tap copies into its row of columns: in each example, one
/// per output row that reads the input.
struct Runs {
    /// Runs per example.
    rows: usize,
    /// Values per run.
    len: usize,
    /// Where the first run goes in the row of columns, the step to the next output row, and
    /// the step to the next example.
    to: (usize, usize, usize),
    /// Where the first run is read in the input, and the steps likewise.
    from: (usize, usize, usize),
    /// The step between the input values of a run: the convolution's stride along the width.
    stride: usize,
    /// Whether the row has outputs in the padding, zeroed beforehand.
    padded: bool,
}

/// Copies `runs` of `examples` examples from `input` into `row`, in the row's order. Runs of
/// stride 1 are copied whole registers at a time: a run of 10 values is two copies of
/// 8, where an exact copy takes one and two single values. What a copy writes past its run
/// lands where a later run will be written, or in the padding, which is zeroed again at once
/// (a register's worth of zeros after the run). Where a whole register would read or write
/// outside `input` or `row`, the run is copied exactly.
fn copy_runs(runs: &Runs, examples: usize, input: &[f32], row: &mut [f32]) {
    // Runs of a known number of registers copy as fixed-size arrays, whose loops the compiler
    // unrolls: runs are short, and a loop's bookkeeping would cost more than its copies. (A
    // stride of 2 copied so takes a load and a store per value, more than the exact copy.)
    match (runs.stride, runs.len.div_ceil(8)) {
        (1, 1) => copy_runs_of::<8>(runs, examples, input, row),
        (1, 2) => copy_runs_of::<16>(runs, examples, input, row),
        (1, 3) => copy_runs_of::<24>(runs, examples, input, row),
        (1, 4) => copy_runs_of::<32>(runs, examples, input, row),
        _ => copy_runs_exactly(runs, examples, input, row),
    }
}

/// [`copy_runs`] value by value, for runs of other strides, or longer than four registers.
fn copy_runs_exactly(runs: &Runs, examples: usize, input: &[f32], row: &mut [f32]) {
    let Runs { len, stride, .. } = *runs;
    let Some(last) = len.checked_sub(1) else {
        return;
    };
    for example in 0..examples {
        let mut to = runs.to.0 + example * runs.to.2;
        let mut from = runs.from.0 + example * runs.from.2;
        for _ in 0..runs.rows {
            let outputs = &mut row[to..][..len];
            if stride == 1 {
                copy_short(outputs, &input[from..][..len]);
            } else {
                // Indexed within a slice cut to the last value read: no bounds checks left in
                // the loop, which a stepped iterator's bookkeeping would cost.
                let values = &input[from..][..=last * stride];
                for (k, value) in outputs.iter_mut().enumerate() {
                    *value = values[k * stride];
                }
            }
            to += runs.to.1;
            from += runs.from.1;
        }
    }
}

/// [`copy_runs`] for runs of stride 1 and at most `WHOLE` values, a multiple of 8.
#[inline(always)]
fn copy_runs_of<const WHOLE: usize>(runs: &Runs, examples: usize, input: &[f32], row: &mut [f32]) {
    let len = runs.len;
    for example in 0..examples {
        let mut to = runs.to.0 + example * runs.to.2;
        let mut from = runs.from.0 + example * runs.from.2;
        for _ in 0..runs.rows {
            match (row.get_mut(to..to + WHOLE), input.get(from..from + WHOLE)) {
                (Some(dst), Some(src)) => {
                    let dst: &mut [f32; WHOLE] = dst.try_into().expect("WHOLE values");
                    *dst = src.try_into().expect("WHOLE values");
                    if runs.padded {
                        // The padding after the run, zeroed again.
                        let after = to + len;
                        match row.get_mut(after..after + 8) {
                            Some(after) => after.copy_from_slice(&[0.0; 8]),
                            None => row[after..to + WHOLE].fill(0.0),
                        }
                    }
                }
                _ => copy_short(&mut row[to..][..len], &input[from..][..len]),
            }
            to += runs.to.1;
            from += runs.from.1;
        }
    }
}

/// `dst.copy_from_slice(src)` for the short runs of an image's row that im2col copies: in
/// registers, eight values at a time, where `copy_from_slice` calls `memcpy`, which costs more
/// than the copy for a few dozen values.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let mut dst = dst.chunks_exact_mut(8);
    let mut src = src.chunks_exact(8);
    for (d, s) in (&mut dst).zip(&mut src) {
        let d: &mut [f32; 8] = d.try_into().expect("chunks of 8");
        *d = s.try_into().expect("chunks of 8");
    }
    for (d, &s) in dst.into_remainder().iter_mut().zip(src.remainder()) {
        *d = s;
    }
}

/// The gradient with respect to `rows` rows of input, from the gradient of their columns
/// (laid out as [`im2col`] writes them): each input value receives the sum of the values of
/// every tap that read it. Padding receives nothing.
pub(super) fn col2im(shape: &Shape, rows: usize, columns: &[f32], input_grad: &mut [f32]) {
    let [height, width] = shape.spec.input;
    let out_width = shape.output[1];
    let [stride_y, stride_x] = shape.spec.stride;
    let plane = height * width;
    let input_grad = &mut input_grad[..rows * shape.input_width];
    input_grad.fill(0.0);
    let length = rows * shape.positions;
    let taps = shape.spec.kernel[0] * shape.spec.kernel[1];
    for_each_tap(shape, |tap, vertical, horizontal| {
        for channel in 0..shape.spec.in_channels {
            let row = &columns[(channel * taps + tap) * length..][..length];
            let channel = channel * plane;
            // In the order of `im2col`.
            let (start, first) =
                vertical.start(horizontal, out_width, channel + horizontal.first, width);
            let examples = input_grad.chunks_exact_mut(shape.input_width);
            for (example, positions) in examples.zip(row.chunks_exact(shape.positions)) {
                for r in 0..vertical.count {
                    let inside = &positions[start + r * out_width..][..horizontal.count];
                    let grads = &mut example[first + r * stride_y * width..];
                    if stride_x == 1 {
                        // A loop the compiler vectorises, which a stepped one is not.
                        for (grad, &value) in grads[..inside.len()].iter_mut().zip(inside) {
                            *grad += value;
                        }
                    } else if let Some(last) = inside.len().checked_sub(1) {
                        // As in `im2col`.
                        let grads = &mut grads[..=last * stride_x];
                        for (k, &value) in inside.iter().enumerate() {
                            grads[k * stride_x] += value;
                        }
                    }
                }
            }
        }
    });
}

/// The products' outputs (`C_out × rows·P`) into PyTorch's order, `rows` rows of
/// `[C_out, H_out, W_out]`, adding `bias[o]` to output channel `o` (if any).
pub(super) fn write_outputs(
    shape: &Shape,
    rows: usize,
    products: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let positions = shape.positions;
    for (o, channel) in products.chunks_exact(rows * positions).enumerate() {
        let bias = bias.map_or(0.0, |bias| bias[o]);
        let examples = output.chunks_exact_mut(shape.output_width);
        for (example, values) in examples.zip(channel.chunks_exact(positions)) {
            for (out, &value) in example[o * positions..][..positions].iter_mut().zip(values) {
                *out = value + bias;
            }
        }
    }
}

/// The inverse of [`write_outputs`], without bias: `rows` rows of `[C_out, H_out, W_out]`
/// (the gradient of the output) into the products' order.
pub(super) fn read_outputs(shape: &Shape, rows: usize, output: &[f32], products: &mut [f32]) {
    let positions = shape.positions;
    for (o, channel) in products.chunks_exact_mut(rows * positions).enumerate() {
        let examples = output.chunks_exact(shape.output_width);
        for (example, values) in examples.zip(channel.chunks_exact_mut(positions)) {
            values.copy_from_slice(&example[o * positions..][..positions]);
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
