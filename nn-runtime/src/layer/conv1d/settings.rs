//! What a [`Conv1d`](super::Conv1d) is built from: PyTorch's constructor arguments and the
//! input length, and the sizes that follow from them, checked once.

use crate::error::{Error, Result};
use crate::size;

/// The settings of a [`Conv1d`](super::Conv1d): the arguments of PyTorch's
/// `torch.nn.Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
/// groups=1, bias=True)`, and the input length `L`, which fixes the output length.
///
/// [`new`](Conv1dSettings::new) takes the arguments PyTorch requires and gives the others
/// PyTorch's defaults; the chained methods change one each. Nothing is checked until the layer
/// is built.
///
/// ```
/// use nn_runtime::Conv1dSettings;
///
/// // MNIST-1D's first layer: `Conv1d(1, 25, 5, stride=2, padding=1)` on 40 samples.
/// let settings = Conv1dSettings::new(1, 25, 5, 40).stride(2).padding(1);
/// assert_eq!(settings.output_length(), Ok(19));
/// assert!(Conv1dSettings::new(3, 4, 1, 8).groups(2).output_length().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv1dSettings {
    /// Channels of the input, `C_in`.
    pub in_channels: usize,
    /// Channels of the output, `C_out`: one filter each.
    pub out_channels: usize,
    /// Taps of each filter, `k`.
    pub kernel_size: usize,
    /// Samples per input channel, `L`.
    pub length: usize,
    /// How far the filter moves between outputs (PyTorch's default 1).
    pub stride: usize,
    /// Zeros added at each end of every input channel (default 0).
    pub padding: usize,
    /// Spacing between the taps of a filter (default 1, adjacent samples).
    pub dilation: usize,
    /// Groups of channels convolved separately: each output channel reads only the
    /// `in_channels / groups` input channels of its group (default 1).
    pub groups: usize,
    /// Whether each output channel adds a learned bias (default `true`).
    pub bias: bool,
}

impl Conv1dSettings {
    /// `Conv1d(in_channels, out_channels, kernel_size)` on inputs of `length` samples, with
    /// PyTorch's defaults: stride 1, no padding, dilation 1, one group, a bias.
    pub const fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        length: usize,
    ) -> Self {
        Conv1dSettings {
            in_channels,
            out_channels,
            kernel_size,
            length,
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }

    /// Sets the stride.
    pub const fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the zero padding at each end.
    pub const fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the dilation.
    pub const fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }

    /// Sets the number of groups.
    pub const fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// Sets whether there is a bias.
    pub const fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// The output length, `L_out = (L + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for settings PyTorch rejects (a zero kernel size, stride,
    /// dilation or group count, channels that the groups do not divide, a kernel longer than
    /// the padded input), for a layer without channels or samples, and for sizes that
    /// overflow the address space.
    pub fn output_length(&self) -> Result<usize> {
        Shape::new(self).map(|shape| shape.output_length)
    }
}

/// The sizes a layer's passes use, all computed with overflow checks when the layer is built,
/// so that the passes can multiply them freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// `L_out`.
    pub output_length: usize,
    /// Input channels per group, `C_in / groups`.
    pub group_inputs: usize,
    /// Output channels per group, `C_out / groups`.
    pub group_outputs: usize,
    /// Values of one filter, `C_in / groups · k`: the rows of a group's columns, and the
    /// weight's fan-in.
    pub patch: usize,
    /// Values of the weight, `C_out · patch`.
    pub weights: usize,
    /// Values of one input row, `C_in · L`.
    pub input_width: usize,
    /// Values of one output row, `C_out · L_out`.
    pub output_width: usize,
    /// Values of the workspace per output position of a batch: every group's columns and
    /// outputs, `C_in·k + C_out`.
    pub per_position: usize,
    /// Values of the workspace the weight gradient needs besides: a row of zeros for its
    /// product's bias, and room for one group's gradient while it is added to the stored one,
    /// `patch·(C_out/groups + 1)`.
    pub fixed: usize,
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
fn invalid(name: &'static str, message: String) -> Error {
    Error::InvalidArgument { name, message }
}

/// Refuses a zero `value` of setting `name`. PyTorch refuses a zero kernel size, stride,
/// dilation or group count, and an input without samples; a layer without channels has nothing
/// to compute, and its initialisation would divide by a zero fan-in.
fn positive(name: &'static str, value: usize) -> Result<usize> {
    if value == 0 {
        Err(invalid(name, "must be at least 1, found 0".to_owned()))
    } else {
        Ok(value)
    }
}

impl Shape {
    pub(super) fn new(settings: &Conv1dSettings) -> Result<Shape> {
        let in_channels = positive("Conv1d in_channels", settings.in_channels)?;
        let out_channels = positive("Conv1d out_channels", settings.out_channels)?;
        let kernel_size = positive("Conv1d kernel_size", settings.kernel_size)?;
        let length = positive("Conv1d input length", settings.length)?;
        let stride = positive("Conv1d stride", settings.stride)?;
        let dilation = positive("Conv1d dilation", settings.dilation)?;
        let groups = positive("Conv1d groups", settings.groups)?;
        for (channels, what) in [(in_channels, "in_channels"), (out_channels, "out_channels")] {
            if channels % groups != 0 {
                return Err(invalid(
                    "Conv1d groups",
                    format!("{what} ({channels}) must be divisible by groups ({groups})"),
                ));
            }
        }

        let overflow = || {
            invalid(
                "Conv1d settings",
                "the layer's sizes overflow the address space".to_owned(),
            )
        };
        // The samples one output reads, from its first tap to its last, and the padded input.
        let reach = mul(dilation, kernel_size - 1)
            .and_then(|span| add(span, 1))
            .ok_or_else(overflow)?;
        let padded = mul(settings.padding, 2)
            .and_then(|padding| add(padding, length))
            .ok_or_else(overflow)?;
        if reach > padded {
            return Err(invalid(
                "Conv1d input length",
                format!(
                    "the kernel spans {reach} samples (dilation·(kernel_size − 1) + 1), more \
                     than the {padded} of the padded input (length + 2·padding): the output \
                     would be empty"
                ),
            ));
        }
        let output_length = (padded - reach) / stride + 1;

        let group_inputs = in_channels / groups;
        let group_outputs = out_channels / groups;
        let sizes = || {
            let patch = mul(group_inputs, kernel_size)?;
            Some((
                patch,
                mul(out_channels, patch)?,
                mul(in_channels, length)?,
                mul(out_channels, output_length)?,
                add(mul(in_channels, kernel_size)?, out_channels)?,
                mul(patch, add(group_outputs, 1)?)?,
            ))
        };
        let (patch, weights, input_width, output_width, per_position, fixed) =
            sizes().ok_or_else(overflow)?;
        Ok(Shape {
            output_length,
            group_inputs,
            group_outputs,
            patch,
            weights,
            input_width,
            output_width,
            per_position,
            fixed,
        })
    }

    /// The values of workspace the passes need for `rows` rows:
    /// `rows·L_out·(C_in·k + C_out) + max(rows·L_out, patch·(C_out/groups + 1))`, and none for
    /// no rows.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when that overflows the address space.
    pub(super) fn workspace_len(&self, rows: usize) -> Result<usize> {
        if rows == 0 {
            return Ok(0);
        }
        let positions = size::checked_values(rows, self.output_length)?;
        let products = size::checked_values(positions, self.per_position)?;
        add(products, positions.max(self.fixed)).ok_or(Error::TooLarge {
            rows: positions,
            width: self.per_position + 1,
        })
    }
}
