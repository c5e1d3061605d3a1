//! The catalogue: one entry per built-in layer name. The single source of truth for `check`
//! (names, arguments, ranges, did-you-mean) and `expand` (runtime types, constructors).

/// A built-in layer.
pub(crate) struct LayerSpec {
    /// The name as written in `network!`, PyTorch's spelling.
    pub name: &'static str,
    /// snake_case, for the names of generated buffers.
    pub snake: &'static str,
    pub kind: Kind,
    /// The arguments, in order, with PyTorch's defaults.
    pub args: &'static [Arg],
}

/// What a layer does to the shape and whether it has parameters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `Linear(in, out)`: parameters, changes the width.
    Linear,
    /// `Conv1d(in, out, kernel, …)` (`dims` 1) or `Conv2d` (2): parameters, turns
    /// `(C_in, L)` into `(C_out, L_out)`, or `(C_in, H, W)` into `(C_out, H_out, W_out)`.
    Conv { dims: usize },
    /// `MaxPool1d(kernel, …)` or `MaxPool2d`: keeps the channels, shrinks the rest.
    MaxPool { dims: usize },
    /// `AvgPool1d(kernel, …)` or `AvgPool2d`: as `MaxPool`, averaging each window.
    AvgPool { dims: usize },
    /// `AdaptiveAvgPool1d(1)` or `AdaptiveAvgPool2d(1)`: each channel's average.
    GlobalAvgPool { dims: usize },
    /// `BatchNorm1d(features)` (on features or `(C, L)`, `dims` 1) or `BatchNorm2d(channels)`
    /// (on `(C, H, W)`): parameters and running statistics, keeps the shape.
    BatchNorm { dims: usize },
    /// `LayerNorm(features)`: normalises each row's features; parameters, keeps the shape.
    LayerNorm,
    /// `Input(channels, length)` or `Input(channels, height, width)`: the shape of a
    /// convolutional network's input.
    Input,
    /// `Flatten`: `(C, L)` read as `C·L` features, the same values in the same order.
    Flatten,
    /// `Residual(chain)`: `x + chain(x)`.
    Residual,
    /// `Dropout(p)`: no parameters, keeps the width, training only.
    Dropout,
    /// An activation: no parameters, keeps the width. `constructor` is how arguments are passed.
    Activation(Constructor),
}

/// How an activation value is built from its arguments.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Constructor {
    /// A unit struct: `ReLU`.
    Unit,
    /// `Type::new(args…)` with every argument, defaults filled in.
    New,
    /// `GELU`: `GELU::new()` or, for `GELU("tanh")`, `GELU::tanh()`.
    Gelu,
}

/// One argument of a built-in layer.
pub(crate) struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
    /// PyTorch's default, as Rust source; `None` when the argument is required.
    pub default: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ArgKind {
    /// A layer width: a positive integer literal or a `usize` constant.
    Width,
    /// A number (`f32`): a literal or a constant.
    Number,
    /// A probability in `[0, 1]`.
    Probability,
    /// One of a few strings.
    Choice(&'static [&'static str]),
    /// A positive integer literal or a `usize` constant: a channel count, a length, a kernel
    /// size, a stride.
    Count,
    /// An integer literal or a `usize` constant, zero allowed: a padding.
    Size,
    /// `true` or `false`.
    Flag,
}

const fn arg(name: &'static str, kind: ArgKind, default: Option<&'static str>) -> Arg {
    Arg {
        name,
        kind,
        default,
    }
}

const fn unit(name: &'static str, snake: &'static str) -> LayerSpec {
    LayerSpec {
        name,
        snake,
        kind: Kind::Activation(Constructor::Unit),
        args: &[],
    }
}

const fn with_args(name: &'static str, snake: &'static str, args: &'static [Arg]) -> LayerSpec {
    LayerSpec {
        name,
        snake,
        kind: Kind::Activation(Constructor::New),
        args,
    }
}

use ArgKind::{Count, Flag, Number, Probability, Size, Width};

/// A convolution's arguments, PyTorch's, with its defaults.
const CONV_ARGS: &[Arg] = &[
    arg("in_channels", Count, None),
    arg("out_channels", Count, None),
    arg("kernel_size", Count, None),
    arg("stride", Count, Some("1")),
    arg("padding", Size, Some("0")),
    arg("dilation", Count, Some("1")),
    arg("groups", Count, Some("1")),
    arg("bias", Flag, Some("true")),
];

/// A batch normalisation's.
const BATCH_NORM_ARGS: &[Arg] = &[
    arg("num_features", Count, None),
    arg("eps", Number, Some("1e-5")),
    arg("momentum", Number, Some("0.1")),
];

/// A max or average pool's: `stride` defaults to the kernel size (written 0 here, which a user cannot
/// write: it is refused).
const POOL_ARGS: &[Arg] = &[
    arg("kernel_size", Count, None),
    arg("stride", Count, Some("0")),
    arg("padding", Size, Some("0")),
];

/// Every built-in layer.
pub(crate) const LAYERS: &[LayerSpec] = &[
    LayerSpec {
        name: "Linear",
        snake: "linear",
        kind: Kind::Linear,
        args: &[
            arg("in_features", Width, None),
            arg("out_features", Width, None),
        ],
    },
    LayerSpec {
        name: "Conv1d",
        snake: "conv",
        kind: Kind::Conv { dims: 1 },
        args: CONV_ARGS,
    },
    LayerSpec {
        name: "Conv2d",
        snake: "conv",
        kind: Kind::Conv { dims: 2 },
        args: CONV_ARGS,
    },
    LayerSpec {
        name: "MaxPool1d",
        snake: "max_pool",
        kind: Kind::MaxPool { dims: 1 },
        args: POOL_ARGS,
    },
    LayerSpec {
        name: "MaxPool2d",
        snake: "max_pool",
        kind: Kind::MaxPool { dims: 2 },
        args: POOL_ARGS,
    },
    LayerSpec {
        name: "AvgPool1d",
        snake: "avg_pool",
        kind: Kind::AvgPool { dims: 1 },
        args: POOL_ARGS,
    },
    LayerSpec {
        name: "AvgPool2d",
        snake: "avg_pool",
        kind: Kind::AvgPool { dims: 2 },
        args: POOL_ARGS,
    },
    LayerSpec {
        name: "AdaptiveAvgPool1d",
        snake: "avg_pool",
        kind: Kind::GlobalAvgPool { dims: 1 },
        args: &[arg("output_size", Count, None)],
    },
    LayerSpec {
        name: "AdaptiveAvgPool2d",
        snake: "avg_pool",
        kind: Kind::GlobalAvgPool { dims: 2 },
        args: &[arg("output_size", Count, None)],
    },
    LayerSpec {
        name: "BatchNorm1d",
        snake: "batch_norm",
        kind: Kind::BatchNorm { dims: 1 },
        args: BATCH_NORM_ARGS,
    },
    LayerSpec {
        name: "BatchNorm2d",
        snake: "batch_norm",
        kind: Kind::BatchNorm { dims: 2 },
        args: BATCH_NORM_ARGS,
    },
    LayerSpec {
        name: "LayerNorm",
        snake: "layer_norm",
        kind: Kind::LayerNorm,
        args: &[
            arg("normalized_shape", Count, None),
            arg("eps", Number, Some("1e-5")),
            arg("elementwise_affine", Flag, Some("true")),
        ],
    },
    LayerSpec {
        name: "Input",
        snake: "input",
        kind: Kind::Input,
        // `Input(C, L)` or `Input(C, H, W)`: a width of 0 (never written: it is refused) means
        // a one-dimensional input.
        args: &[
            arg("channels", Count, None),
            arg("length", Count, None),
            arg("width", Count, Some("0")),
        ],
    },
    LayerSpec {
        name: "Flatten",
        snake: "flatten",
        kind: Kind::Flatten,
        args: &[],
    },
    LayerSpec {
        name: "Residual",
        snake: "residual",
        kind: Kind::Residual,
        args: &[],
    },
    LayerSpec {
        name: "Dropout",
        snake: "dropout",
        kind: Kind::Dropout,
        args: &[arg("p", Probability, Some("0.5"))],
    },
    unit("ReLU", "relu"),
    unit("Sigmoid", "sigmoid"),
    unit("Tanh", "tanh"),
    with_args(
        "LeakyReLU",
        "leaky_relu",
        &[arg("negative_slope", Number, Some("0.01"))],
    ),
    with_args("ELU", "elu", &[arg("alpha", Number, Some("1.0"))]),
    unit("SELU", "selu"),
    with_args("CELU", "celu", &[arg("alpha", Number, Some("1.0"))]),
    LayerSpec {
        name: "GELU",
        snake: "gelu",
        kind: Kind::Activation(Constructor::Gelu),
        args: &[arg(
            "approximate",
            ArgKind::Choice(&["none", "tanh"]),
            Some("\"none\""),
        )],
    },
    unit("SiLU", "silu"),
    unit("Mish", "mish"),
    with_args(
        "Softplus",
        "softplus",
        &[
            arg("beta", Number, Some("1.0")),
            arg("threshold", Number, Some("20.0")),
        ],
    ),
    unit("Softsign", "softsign"),
    with_args(
        "Softshrink",
        "softshrink",
        &[arg("lambd", Number, Some("0.5"))],
    ),
    unit("Tanhshrink", "tanhshrink"),
    with_args(
        "Hardtanh",
        "hardtanh",
        &[
            arg("min_val", Number, Some("-1.0")),
            arg("max_val", Number, Some("1.0")),
        ],
    ),
    unit("Hardsigmoid", "hardsigmoid"),
    unit("Hardswish", "hardswish"),
    unit("ReLU6", "relu6"),
    unit("Softmax", "softmax"),
    unit("LogSoftmax", "log_softmax"),
    unit("Identity", "identity"),
];

/// The built-in layer called `name`, if any.
pub(crate) fn find(name: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().find(|layer| layer.name == name)
}

/// Every built-in name, for did-you-mean.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    LAYERS.iter().map(|layer| layer.name)
}

impl LayerSpec {
    /// `in_features, out_features`, for messages about arity.
    pub fn signature(&self) -> String {
        self.args
            .iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the layer has parameters, and so can take a label.
    pub fn has_parameters(&self) -> bool {
        matches!(
            self.kind,
            Kind::Linear | Kind::Conv { .. } | Kind::BatchNorm { .. } | Kind::LayerNorm
        )
    }

    /// How many arguments have no default.
    pub fn required(&self) -> usize {
        self.args.iter().filter(|a| a.default.is_none()).count()
    }
}
