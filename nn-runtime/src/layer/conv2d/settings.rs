//! What a [`Conv2d`](super::Conv2d) is built from: PyTorch's constructor arguments and the
//! input's height and width, and the sizes that follow from them, checked once.

use super::super::conv::{AxisNames, Names, Shape, Spec};
use crate::error::Result;

/// The settings of a [`Conv2d`](super::Conv2d): the arguments of PyTorch's
/// `torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
/// groups=1, bias=True)`, and the input's height `H` and width `W`, which fix the output's.
///
/// Pairs are `(height, width)`, as PyTorch's tuples. [`new`](Conv2dSettings::new) takes the
/// arguments PyTorch requires, with a square kernel, and gives the others PyTorch's defaults;
/// the chained methods set one each, the same along both axes. Set a field for different
/// values along each. Nothing is checked until the layer is built.
///
/// ```
/// use nn_runtime::Conv2dSettings;
///
/// // LeNet's first layer: `Conv2d(1, 6, 5, padding=2)` on 28 × 28 images.
/// let settings = Conv2dSettings::new(1, 6, 5, 28, 28).padding(2);
/// assert_eq!(settings.output_size(), Ok((28, 28)));
/// let strided = Conv2dSettings {
///     stride: (2, 1),
///     ..Conv2dSettings::new(3, 4, 3, 9, 7)
/// };
/// assert_eq!(strided.output_size(), Ok((4, 5)));
/// assert!(Conv2dSettings::new(3, 4, 1, 8, 8).groups(2).output_size().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dSettings {
    /// Channels of the input, `C_in`.
    pub in_channels: usize,
    /// Channels of the output, `C_out`: one filter each.
    pub out_channels: usize,
    /// Rows and columns of each filter, `(kh, kw)`.
    pub kernel_size: (usize, usize),
    /// Rows of each input channel, `H`.
    pub height: usize,
    /// Columns of each input channel, `W`.
    pub width: usize,
    /// How far the filter moves between outputs, down and across (PyTorch's default 1).
    pub stride: (usize, usize),
    /// Rows of zeros added above and below, and columns of zeros left and right, of every
    /// input channel (default 0).
    pub padding: (usize, usize),
    /// Spacing between the taps of a filter, down and across (default 1, adjacent values).
    pub dilation: (usize, usize),
    /// Groups of channels convolved separately: each output channel reads only the
    /// `in_channels / groups` input channels of its group (default 1).
    pub groups: usize,
    /// Whether each output channel adds a learned bias (default `true`).
    pub bias: bool,
}

impl Conv2dSettings {
    /// `Conv2d(in_channels, out_channels, kernel_size)` on inputs of `height × width` values,
    /// with PyTorch's defaults: stride 1, no padding, dilation 1, one group, a bias.
    pub const fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        height: usize,
        width: usize,
    ) -> Self {
        Conv2dSettings {
            in_channels,
            out_channels,
            kernel_size: (kernel_size, kernel_size),
            height,
            width,
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
            bias: true,
        }
    }

    /// Sets the stride along both axes.
    pub const fn stride(mut self, stride: usize) -> Self {
        self.stride = (stride, stride);
        self
    }

    /// Sets the zero padding along both axes.
    pub const fn padding(mut self, padding: usize) -> Self {
        self.padding = (padding, padding);
        self
    }

    /// Sets the dilation along both axes.
    pub const fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = (dilation, dilation);
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

    /// The output's height and width, `(H_out, W_out)`, each
    /// `(size + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1` along its axis.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for settings PyTorch rejects
    /// (a zero kernel size, stride, dilation or group count, channels that the groups do not
    /// divide, a kernel taller or wider than the padded input), for a layer without channels
    /// or an empty input, and for sizes that overflow the address space.
    pub fn output_size(&self) -> Result<(usize, usize)> {
        self.shape().map(|shape| (shape.output[0], shape.output[1]))
    }

    /// The sizes of the layer.
    pub(super) fn shape(&self) -> Result<Shape> {
        let pair = |(height, width): (usize, usize)| [height, width];
        let spec = Spec {
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            kernel: pair(self.kernel_size),
            input: [self.height, self.width],
            stride: pair(self.stride),
            padding: pair(self.padding),
            dilation: pair(self.dilation),
            groups: self.groups,
        };
        Shape::new(&spec, &NAMES)
    }
}

/// The settings' names in errors.
const NAMES: Names = Names {
    in_channels: "Conv2d in_channels",
    out_channels: "Conv2d out_channels",
    kernel_size: "Conv2d kernel_size",
    stride: "Conv2d stride",
    dilation: "Conv2d dilation",
    groups: "Conv2d groups",
    settings: "Conv2d settings",
    input: [
        AxisNames {
            setting: "Conv2d input height",
            extent: "height",
            unit: "rows",
        },
        AxisNames {
            setting: "Conv2d input width",
            extent: "width",
            unit: "columns",
        },
    ],
};
