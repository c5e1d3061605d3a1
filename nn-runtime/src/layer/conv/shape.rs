//! What a convolution is built from, in two dimensions, and the sizes that follow, checked
//! once. A one-dimensional convolution is the two-dimensional one of an input one row high,
//! with a kernel one row high, so its settings map onto these with height 1 and stride,
//! padding and dilation 1, 0 and 1 along the height.

use crate::error::{Error, Result};
use crate::size;

/// Axis 0 is the height, axis 1 the width.
pub(in crate::layer) type Pair = [usize; 2];

/// A convolution's settings, whatever its number of dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(in crate::layer) struct Spec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: Pair,
    /// The input's height and width.
    pub input: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub dilation: Pair,
    pub groups: usize,
}

/// The settings' names in errors, as the layer's users know them (`Conv1d kernel_size`).
#[derive(Debug, Clone, Copy)]
pub(in crate::layer) struct Names {
    pub in_channels: &'static str,
    pub out_channels: &'static str,
    pub kernel_size: &'static str,
    pub stride: &'static str,
    pub dilation: &'static str,
    pub groups: &'static str,
    /// Sizes that overflow the address space.
    pub settings: &'static str,
    /// Each axis of the input.
    pub input: [AxisNames; 2],
}

/// How errors name one axis of the input.
#[derive(Debug, Clone, Copy)]
pub(in crate::layer) struct AxisNames {
    /// The setting, `Conv1d input length`.
    pub setting: &'static str,
    /// The extent in formulas, `length`.
    pub extent: &'static str,
    /// What it counts, `samples`.
    pub unit: &'static str,
}

/// The sizes a layer's passes use, all computed with overflow checks when the layer is built,
/// so that the passes can multiply them freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::layer) struct Shape {
    pub spec: Spec,
    /// The output's height and width.
    pub output: Pair,
    /// Output positions per channel, `H_out·W_out`.
    pub positions: usize,
    /// Input channels per group, `C_in / groups`.
    pub group_inputs: usize,
    /// Output channels per group, `C_out / groups`.
    pub group_outputs: usize,
    /// Values of one filter, `C_in / groups · kh·kw`: the rows of a group's columns, and the
    /// weight's fan-in.
    pub patch: usize,
    /// Values of the weight, `C_out · patch`.
    pub weights: usize,
    /// Values of one input row, `C_in · H·W`.
    pub input_width: usize,
    /// Values of one output row, `C_out · H_out·W_out`.
    pub output_width: usize,
    /// Values of the workspace per output position of a chunk of examples: every group's
    /// columns and outputs, `C_in·kh·kw + C_out`.
    pub per_position: usize,
}

/// `a × b`, if a buffer of that many values can exist.
fn mul(a: usize, b: usize) -> Option<usize> {
    size::checked_values(a, b).ok()
}

/// `a + b`, if a buffer of that many values can exist.
fn add(a: usize, b: usize) -> Option<usize> {
    a.checked_add(b).and_then(|sum| mul(sum, 1))
}

/// [`Error::InvalidArgument`] for the setting `name`.
pub(in crate::layer) fn invalid(name: &'static str, message: String) -> Error {
    Error::InvalidArgument { name, message }
}

/// Refuses a zero `value` of setting `name`. PyTorch refuses a zero kernel size, stride,
/// dilation or group count, and an input without samples; a layer without channels has nothing
/// to compute, and its initialisation would divide by a zero fan-in.
pub(in crate::layer) fn positive(name: &'static str, value: usize) -> Result<usize> {
    if value == 0 {
        Err(invalid(name, "must be at least 1, found 0".to_owned()))
    } else {
        Ok(value)
    }
}

impl Shape {
    /// The sizes of `spec`, or the first of its settings that PyTorch rejects, named as
    /// `names` says.
    pub(in crate::layer) fn new(spec: &Spec, names: &Names) -> Result<Shape> {
        let in_channels = positive(names.in_channels, spec.in_channels)?;
        let out_channels = positive(names.out_channels, spec.out_channels)?;
        for kernel in spec.kernel {
            positive(names.kernel_size, kernel)?;
        }
        for (axis, size) in names.input.iter().zip(spec.input) {
            positive(axis.setting, size)?;
        }
        for stride in spec.stride {
            positive(names.stride, stride)?;
        }
        for dilation in spec.dilation {
            positive(names.dilation, dilation)?;
        }
        let groups = positive(names.groups, spec.groups)?;
        for (channels, what) in [(in_channels, "in_channels"), (out_channels, "out_channels")] {
            if channels % groups != 0 {
                return Err(invalid(
                    names.groups,
                    format!("{what} ({channels}) must be divisible by groups ({groups})"),
                ));
            }
        }

        let overflow = || {
            invalid(
                names.settings,
                "the layer's sizes overflow the address space".to_owned(),
            )
        };
        let extent = |axis: usize| {
            // The input one output reads, from its first tap to its last, and the padded input.
            let reach = mul(spec.dilation[axis], spec.kernel[axis] - 1)
                .and_then(|span| add(span, 1))
                .ok_or_else(overflow)?;
            let padded = mul(spec.padding[axis], 2)
                .and_then(|padding| add(padding, spec.input[axis]))
                .ok_or_else(overflow)?;
            if reach > padded {
                let AxisNames {
                    setting,
                    extent,
                    unit,
                } = names.input[axis];
                return Err(invalid(
                    setting,
                    format!(
                        "the kernel spans {reach} {unit} (dilation·(kernel_size − 1) + 1), more \
                         than the {padded} of the padded input ({extent} + 2·padding): the \
                         output would be empty"
                    ),
                ));
            }
            Ok((padded - reach) / spec.stride[axis] + 1)
        };
        let output = [extent(0)?, extent(1)?];

        let group_inputs = in_channels / groups;
        let group_outputs = out_channels / groups;
        let sizes = || {
            let taps = mul(spec.kernel[0], spec.kernel[1])?;
            let patch = mul(group_inputs, taps)?;
            let positions = mul(output[0], output[1])?;
            Some((
                positions,
                patch,
                mul(out_channels, patch)?,
                mul(in_channels, mul(spec.input[0], spec.input[1])?)?,
                mul(out_channels, positions)?,
                add(mul(in_channels, taps)?, out_channels)?,
            ))
        };
        let (positions, patch, weights, input_width, output_width, per_position) =
            sizes().ok_or_else(overflow)?;
        Ok(Shape {
            spec: *spec,
            output,
            positions,
            group_inputs,
            group_outputs,
            patch,
            weights,
            input_width,
            output_width,
            per_position,
        })
    }

    /// The values of workspace the passes need for `rows` rows: for each of the threads that
    /// may share their chunks of examples ([`Shape::chunks`]; two if there are several chunks,
    /// each at most `rows / 2` examples, rounded up), `chunk·P·(C_in·kh·kw + C_out)` with
    /// `P = H_out·W_out`; with several chunks, two sums of the weight's and the bias's
    /// gradients besides; none for no rows.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when that overflows the address space.
    pub(in crate::layer) fn workspace_len(&self, rows: usize) -> Result<usize> {
        let (chunk, tasks) = self.chunks(rows);
        if tasks == 0 {
            return Ok(0);
        }
        let positions = size::checked_values(chunk, self.positions)?;
        let per_worker = size::checked_values(positions, self.per_position)?;
        if tasks == 1 {
            return Ok(per_worker);
        }
        let sums = self.weights + self.spec.out_channels;
        let both = per_worker.checked_add(sums).ok_or(Error::TooLarge {
            rows: positions,
            width: self.per_position,
        })?;
        size::checked_values(2, both)
    }

    /// Values per row of a workspace that serves the layer for any number of rows: with
    /// several chunks, each has at most `(rows + 1) / 2` examples, so the two threads' parts
    /// take at most `(rows + 1)·P·(C_in·kh·kw + C_out)`, which
    /// `2·P·(C_in·kh·kw + C_out) + 2·(weights + C_out)` per row covers with the sums.
    pub(in crate::layer) fn workspace_per_row(&self) -> usize {
        2 * (self.positions * self.per_position + self.weights + self.spec.out_channels)
    }
}
