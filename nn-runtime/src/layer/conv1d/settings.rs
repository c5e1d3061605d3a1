//! What a [`Conv1d`](super::Conv1d) is built from: PyTorch's constructor arguments and the
//! input length, and the sizes that follow from them, checked once.

use super::super::conv::{AxisNames, Names, Shape, Spec};
use crate::error::Result;

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
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for settings PyTorch rejects (a zero kernel size, stride,
    /// dilation or group count, channels that the groups do not divide, a kernel longer than
    /// the padded input), for a layer without channels or samples, and for sizes that
    /// overflow the address space.
    pub fn output_length(&self) -> Result<usize> {
        self.shape().map(|shape| shape.output[1])
    }

    /// The sizes of the layer: those of a two-dimensional convolution of an input one row
    /// high, with a kernel one row high.
    pub(super) fn shape(&self) -> Result<Shape> {
        let spec = Spec {
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            kernel: [1, self.kernel_size],
            input: [1, self.length],
            stride: [1, self.stride],
            padding: [0, self.padding],
            dilation: [1, self.dilation],
            groups: self.groups,
        };
        Shape::new(&spec, &NAMES)
    }
}

/// The settings' names in errors. The height is always 1, so its name never shows.
const NAMES: Names = Names {
    in_channels: "Conv1d in_channels",
    out_channels: "Conv1d out_channels",
    kernel_size: "Conv1d kernel_size",
    stride: "Conv1d stride",
    dilation: "Conv1d dilation",
    groups: "Conv1d groups",
    settings: "Conv1d settings",
    input: [LENGTH, LENGTH],
};

const LENGTH: AxisNames = AxisNames {
    setting: "Conv1d input length",
    extent: "length",
    unit: "samples",
};
