//! The checked network that `expand` turns into code: widths resolved, names chosen, every
//! layer's runtime value decided. `expand` makes no decisions of its own.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Attribute, Ident, Path, Visibility};

pub(crate) use crate::width::{Condition, Width};

/// A network that passed every check.
pub(crate) struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    /// Declared as an expression (`network!(Linear(4, 8) -> …)`) rather than a named struct.
    pub anonymous: bool,
    pub input: Width,
    pub output: Width,
    pub stages: Vec<Stage>,
    /// The buffer every convolution works in, one as wide as the widest needs, if any has one.
    pub workspace: Option<Workspace>,
    /// The rows of the `Display` table, in the order of the chain.
    pub summary: Vec<SummaryRow>,
    /// The evaluation graph for ONNX, layer by layer in the order of the chain.
    pub onnx: Vec<OnnxStep>,
    /// The chain as written, for documentation: `fc1: Linear(64, 128) -> ReLU -> …`.
    pub spec: String,
    /// Facts about constant widths, left to the compiler.
    pub const_checks: Vec<ConstCheck>,
    /// Sizes computed from constants, which the generated code names.
    pub sizes: Vec<SizeConst>,
    /// Custom activations, each built by a function of its own.
    pub custom_activations: Vec<CustomActivation>,
    /// The struct field holding the buffers, `buffers` unless a label took that name.
    pub buffers_field: Ident,
    /// Names for the generated type parameters that no type in the call uses.
    pub type_params: TypeParams,
    /// The passes, step by step, with every fusion decided.
    pub plan: Plan,
}

/// What the generated passes do, in order. Lowering decides it; expansion prints it.
///
/// The fusion rules: the first activation after a `Linear` runs in the `Linear`'s forward
/// product (which, for ReLU, stores only `max(z, 0)`); the derivative of the last activation of
/// a stage is applied by the input-gradient product of the next `Linear`, or as a residual sum
/// hands its gradient to its chain; the network's last activation is differentiated together
/// with the loss; every other activation and dropout runs as a pass of its own over the rows.
/// A stage whose output a residual sum also reads gets its gradient whole first: the next
/// layer's input gradient, plus the sum's.
pub(crate) struct Plan {
    /// Inference: dropout off.
    pub evaluation: Vec<ForwardStep>,
    /// Training, where it differs from inference (with dropout).
    pub training: Option<Vec<ForwardStep>>,
    /// The buffer holding the network's output in inference and in training.
    pub evaluation_output: Ident,
    pub training_output: Ident,
    /// How the loss's gradient enters the backward pass.
    pub loss: LossGradient,
    /// The backward pass, last layer first.
    pub backward: Vec<BackwardStep>,
}

/// What a step reads: the network's input `x`, or a buffer.
#[derive(Clone)]
pub(crate) enum Source {
    Input,
    Buffer(Ident),
}

impl ToTokens for Source {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Source::Input => quote!(x).to_tokens(tokens),
            Source::Buffer(buffer) => buffer.to_tokens(tokens),
        }
    }
}

/// An activation applied in place of, or beside, another step: its value (`ReLU`,
/// `LeakyReLU::new(0.1f32)`), the buffer holding its input and the one holding its output.
#[derive(Clone)]
pub(crate) struct Activation {
    pub value: TokenStream,
    pub input: Ident,
    pub output: Ident,
}

/// One statement of a forward pass.
pub(crate) enum ForwardStep {
    /// `z = input·Wᵀ + b` into `z`; with `activation`, `a = f(z)` in the same pass.
    Linear {
        field: Ident,
        input: Source,
        z: Ident,
        activation: Option<Activation>,
    },
    /// `output = f(input)`, row by row.
    Activation {
        activation: Activation,
        width: Width,
    },
    /// `output = input · mask / (1 − p)`, drawing the mask.
    Dropout {
        field: Ident,
        input: Ident,
        output: Ident,
        mask: Ident,
    },
    /// A convolution of `input` into `output`, in `workspace`.
    Conv {
        field: Ident,
        input: Source,
        output: Ident,
        workspace: Ident,
    },
    /// A normalisation of `input` into `output`: `function` is the runtime's pass, in
    /// training or evaluation mode.
    Norm {
        function: Ident,
        field: Ident,
        input: Source,
        output: Ident,
        training: bool,
    },
    /// Pooling of `input` into `output`.
    Pool {
        field: Ident,
        input: Source,
        output: Ident,
    },
    /// A residual sum, `output = skip + branch`.
    Add {
        skip: Source,
        branch: Ident,
        output: Ident,
    },
}

/// The loss's value and its gradient with respect to `activation`'s input, into `grad`
/// (through the identity when the network ends in a `Linear` or dropout).
pub(crate) struct LossGradient {
    pub activation: Activation,
    pub grad: Ident,
    pub width: Width,
}

/// One statement of the backward pass.
pub(crate) enum BackwardStep {
    /// `grad ⊙= f'(input)` in place, for an activation no product folds in.
    Activation {
        activation: Activation,
        grad: Ident,
        width: Width,
    },
    /// `grad ⊙= mask / (1 − p)`.
    Dropout { mask: Ident, grad: Ident },
    /// `dW = gradᵀ·input`, `db = Σ grad`.
    Params {
        field: Ident,
        input: Source,
        grad: Ident,
    },
    /// `grad_before = (grad·W) ⊙ derivative'`, the derivative of the layer before.
    Input {
        field: Ident,
        grad: Ident,
        derivative: Activation,
        grad_before: Ident,
    },
    /// A convolution's weight and bias gradients.
    ConvParams {
        field: Ident,
        input: Source,
        grad: Ident,
        workspace: Ident,
    },
    /// A convolution's input gradient, into `grad_before`.
    ConvInput {
        field: Ident,
        grad: Ident,
        grad_before: Ident,
        workspace: Ident,
    },
    /// A normalisation's weight and bias gradients, and its input gradient into `grad_before`
    /// unless it opens the network: one step, as both need the same sums over the batch.
    Norm {
        passes: String,
        field: Ident,
        input: Source,
        grad: Ident,
        grad_before: Option<Ident>,
    },
    /// Pooling's input gradient, into `grad_before`, from the input it pooled.
    PoolInput {
        field: Ident,
        input: Source,
        grad: Ident,
        grad_before: Ident,
    },
    /// A residual sum hands its gradient to its chain: `branch = grad ⊙ derivative'`, the
    /// derivative of the chain's last activation, if it ends in one.
    Route {
        grad: Ident,
        branch: Ident,
        derivative: Option<Activation>,
        width: Width,
    },
    /// The gradient a residual sum passes to its input by the skip connection: `grad += sum`.
    AddGrad { grad: Ident, sum: Ident },
}

/// The generated methods' type parameters: `R: Rng`, `L: Loss`, `O: Optimizer`, `P: AsRef<Path>`,
/// `V: ParameterVisitor`, or other letters where the call names a type or constant so.
pub(crate) struct TypeParams {
    pub rng: Ident,
    pub loss: Ident,
    pub optimizer: Ident,
    pub path: Ident,
    pub visitor: Ident,
}

/// One buffer of the network's `Buffers`: the local it is bound
/// to in the passes, and its values per row.
pub(crate) struct Slot<'a> {
    pub binding: &'a Ident,
    pub width: TokenStream,
}

impl Network {
    /// Every buffer, in the order the network's `Buffers` holds them: per stage, the head's
    /// output, each op's output (and a dropout's mask), then the head's output gradient; last,
    /// the convolutions' workspace.
    pub fn slots(&self) -> Vec<Slot<'_>> {
        let mut slots = Vec::new();
        for stage in &self.stages {
            let width = stage.outputs.to_token_stream();
            let mut push = |binding| {
                slots.push(Slot {
                    binding,
                    width: width.clone(),
                })
            };
            push(&stage.z);
            for op in &stage.ops {
                push(&op.buffer);
                if let OpKind::Dropout { mask, .. } = &op.kind {
                    push(mask);
                }
            }
            push(&stage.grad);
        }
        if let Some(workspace) = &self.workspace {
            slots.push(Slot {
                binding: &workspace.binding,
                width: workspace.width.clone(),
            });
        }
        slots
    }
}

/// The convolutions' shared workspace: its binding, and an expression for its values per row.
pub(crate) struct Workspace {
    pub binding: Ident,
    pub width: TokenStream,
}

/// One layer of the ONNX graph, in the order of the chain, under PyTorch's name for it (`key`).
pub(crate) enum OnnxStep {
    /// The flat input rows as `[batch, C, …]`, for a convolutional network.
    ReshapeInput {
        dims: Vec<Width>,
    },
    Linear {
        key: String,
        field: Ident,
    },
    /// A convolution: `passes` names the graph's method (`conv1d`).
    Conv {
        key: String,
        field: Ident,
        passes: String,
    },
    /// A max or average pool: `method` names the graph's method (`max_pool`).
    Pool {
        key: String,
        method: &'static str,
        dims: usize,
        kernel: Width,
        stride: Width,
        padding: Width,
    },
    Flatten {
        key: String,
    },
    GlobalAveragePool {
        key: String,
    },
    /// A normalisation: `passes` names the graph's method (`batch_norm`).
    Norm {
        key: String,
        field: Ident,
        passes: String,
    },
    Activation {
        key: String,
        value: TokenStream,
    },
    /// Where a `Residual` starts: its input, kept in the local `skip`.
    Skip {
        skip: Ident,
    },
    /// Where it ends: `skip` plus its chain's output.
    Residual {
        key: String,
        skip: Ident,
    },
}

/// A row of the summary table: the layer as the table names it, its output's shape and its
/// parameter count (expressions).
pub(crate) struct SummaryRow {
    pub display: String,
    pub shape: Vec<TokenStream>,
    pub params: TokenStream,
}

/// The shape of the values flowing between two layers, per example.
#[derive(Clone, PartialEq)]
pub(crate) enum Shape {
    /// A row of features.
    Features(Width),
    /// `channels` planes of `size` (`[L]` or `[H, W]`), channel-major, as PyTorch's contiguous
    /// `[C, L]` or `[C, H, W]`.
    Spatial { channels: Width, size: Vec<Width> },
}

impl Shape {
    /// Values per row.
    pub fn width(&self) -> Width {
        match self {
            Shape::Features(width) => width.clone(),
            Shape::Spatial { channels, size } => {
                Width::product(std::iter::once(channels).chain(size))
            }
        }
    }

    /// How a message shows it: `100`, `(25, 19)`, `(6, 28, 28)`, `` (`CHANNELS`, 19) ``.
    pub fn text(&self) -> String {
        match self {
            Shape::Features(width) => width.show(),
            Shape::Spatial { .. } => {
                let dims: Vec<String> = self.spatial_dims().iter().map(Width::show).collect();
                format!("({})", dims.join(", "))
            }
        }
    }

    /// The dimensions of a spatial shape, channels first; none for features.
    pub fn spatial_dims(&self) -> Vec<Width> {
        match self {
            Shape::Features(_) => Vec::new(),
            Shape::Spatial { channels, size } => {
                std::iter::once(channels).chain(size).cloned().collect()
            }
        }
    }

    /// The dimensions, for the summary table.
    pub fn dims(&self) -> Vec<TokenStream> {
        match self {
            Shape::Features(width) => vec![width.to_token_stream()],
            Shape::Spatial { .. } => self
                .spatial_dims()
                .iter()
                .map(ToTokens::to_token_stream)
                .collect(),
        }
    }
}

/// A layer that computes a new value (a `Linear`, a convolution, a residual sum) and the
/// shape-preserving operations after it, up to the next such layer.
pub(crate) struct Stage {
    pub head: Head,
    /// The buffer holding the head's output `z`.
    pub z: Ident,
    /// The buffer holding the gradient with respect to `z`, and through the ops in place, with
    /// respect to each op's output.
    pub grad: Ident,
    /// Values per row of `z` and of every op's output.
    pub outputs: Width,
    pub ops: Vec<Op>,
}

/// What starts a stage. Every head but the first network-level one reads the output of the
/// stage before it; a sum reads that and the output of the stage before its chain.
pub(crate) enum Head {
    Linear(Box<LinearLayer>),
    Conv(ConvLayer),
    Pool(PoolLayer),
    Norm(NormLayer),
    /// `z = skip + branch`: the end of a `Residual`. `skip` is the stage before its chain
    /// (`None` for the network's input) and `branch` its chain's last stage, the stage before.
    Sum {
        skip: Option<usize>,
        branch: usize,
    },
}

impl Head {
    /// The layer's field and its parameter names, for a head with parameters.
    pub fn parameters(&self) -> Option<(&Ident, &str, &str)> {
        match self {
            Head::Linear(l) => Some((&l.field, &l.weight_key, &l.bias_key)),
            Head::Conv(c) => Some((&c.field, &c.weight_key, &c.bias_key)),
            Head::Norm(n) => Some((&n.field, &n.weight_key, &n.bias_key)),
            Head::Pool(_) | Head::Sum { .. } => None,
        }
    }
}

/// A convolution.
pub(crate) struct ConvLayer {
    pub field: Ident,
    /// The runtime's names for it: its type (`Conv1d`), and the function that builds it
    /// (`conv1d`), which also names its ONNX writer.
    pub runtime: Ident,
    pub passes: String,
    pub weight_key: String,
    pub bias_key: String,
    /// An expression for its runtime settings: `Conv1dSettings::new(1, 25, 5, 40).stride(2)`.
    pub settings: TokenStream,
    /// Its weight's shape and whether it has a bias, for its field's documentation.
    pub weight_shape: String,
    pub bias: bool,
    pub display: String,
}

/// A pooling layer: no parameters, a field that holds its geometry.
pub(crate) struct PoolLayer {
    pub field: Ident,
    /// Its runtime type (`MaxPool2d`) and the expression that builds it.
    pub runtime: Ident,
    pub value: TokenStream,
    pub display: String,
}

/// A normalisation: `BatchNorm1d`, `BatchNorm2d` or `LayerNorm`.
pub(crate) struct NormLayer {
    pub field: Ident,
    /// The runtime's type (`BatchNorm`) and the expression that builds it.
    pub runtime: Ident,
    pub value: TokenStream,
    /// The prefix of its passes: `batch_norm` or `layer_norm`.
    pub passes: String,
    /// Whether training and evaluation differ (batch statistics against running ones).
    pub batch_statistics: bool,
    /// PyTorch's name of the module (`bn`), and of its parameters.
    pub key: String,
    pub weight_key: String,
    pub bias_key: String,
    pub display: String,
}

/// A `Linear` layer.
pub(crate) struct LinearLayer {
    /// The struct field.
    pub field: Ident,
    /// PyTorch state-dict keys: `fc1.weight`, or `0.weight` as `nn.Sequential` names them.
    pub weight_key: String,
    pub bias_key: String,
    pub inputs: Width,
    pub outputs: Width,
    /// How the summary table names it: `fc1 (Linear)`.
    pub display: String,
}

/// A width-preserving operation after a `Linear`.
pub(crate) struct Op {
    /// The buffer holding its output.
    pub buffer: Ident,
    pub kind: OpKind,
    /// How the summary table names it: `LeakyReLU(0.1)`.
    pub display: String,
}

pub(crate) enum OpKind {
    /// An activation; `value` is an expression that builds it (the runtime's `ReLU`).
    Activation { value: TokenStream },
    /// Dropout: a struct field holding its generator, and a buffer for its mask.
    Dropout {
        field: Ident,
        mask: Ident,
        p: TokenStream,
    },
}

/// A user type named as a layer. Generated code builds it through `function`, whose return type
/// `impl RowActivation` turns a type that is not an activation into one error at its name.
pub(crate) struct CustomActivation {
    pub function: Ident,
    /// The value as written: `Swish` or `Scaled(2.0)`.
    pub value: TokenStream,
    pub path: Path,
}

/// `assert!(condition, message)` at compile time, for sizes given as constants: the compiler
/// reports the message at `span`, the constant the user wrote.
pub(crate) struct ConstCheck {
    pub condition: TokenStream,
    pub message: String,
    pub span: Span,
    /// What must hold for the check to mean anything: that the windows of the convolutions and
    /// pools before it fit, which checks of their own report.
    pub requires: Vec<Condition>,
}

/// A size computed from constants, such as a convolution's output length, held by a constant of
/// the generated code: `const CONV1_LENGTH: usize = window_output(40, KERNEL, 2, 1, 1);`.
pub(crate) struct SizeConst {
    pub name: Ident,
    pub value: TokenStream,
    /// What it is, for its documentation: `` `conv1`'s output length ``.
    pub doc: String,
}
