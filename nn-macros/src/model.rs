//! The checked network that `expand` turns into code: widths resolved, names chosen, every
//! layer's runtime value decided. `expand` makes no decisions of its own.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Attribute, Expr, Ident, Path, Visibility};

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
    /// The chain as written, for documentation: `fc1: Linear(64, 128) -> ReLU -> …`.
    pub spec: String,
    /// Facts about constant widths, left to the compiler.
    pub const_checks: Vec<ConstCheck>,
    /// Custom activations, each built by a function of its own.
    pub custom_activations: Vec<CustomActivation>,
    /// The struct field holding the buffers, `buffers` unless a label took that name.
    pub buffers_field: Ident,
    /// Names for the generated type parameters that no type in the call uses.
    pub type_params: TypeParams,
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
    pub width: &'a Width,
}

impl Network {
    /// Every buffer, in the order the network's `Buffers` holds them: per stage, the `Linear`'s
    /// output, each op's output (and a dropout's mask), then the `Linear`'s output gradient.
    pub fn slots(&self) -> Vec<Slot<'_>> {
        let mut slots = Vec::new();
        for stage in &self.stages {
            let width = &stage.linear.outputs;
            slots.push(Slot {
                binding: &stage.linear.z,
                width,
            });
            for op in &stage.ops {
                slots.push(Slot {
                    binding: &op.buffer,
                    width,
                });
                if let OpKind::Dropout { mask, .. } = &op.kind {
                    slots.push(Slot {
                        binding: mask,
                        width,
                    });
                }
            }
            slots.push(Slot {
                binding: &stage.linear.grad,
                width,
            });
        }
        slots
    }
}

/// A width: an integer the macro knows, or a constant only the compiler can evaluate.
#[derive(Clone)]
pub(crate) enum Width {
    Literal(u64, Span),
    Const(Expr),
}

impl ToTokens for Width {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Width::Literal(value, span) => {
                syn::LitInt::new(&value.to_string(), *span).to_tokens(tokens);
            }
            Width::Const(expr) => expr.to_tokens(tokens),
        }
    }
}

impl Width {
    /// Where the width was written.
    pub fn span(&self) -> Span {
        match self {
            Width::Literal(_, span) => *span,
            Width::Const(expr) => syn::spanned::Spanned::span(expr),
        }
    }

    /// The width as written: `128` or `HIDDEN`.
    pub fn text(&self) -> String {
        match self {
            Width::Literal(value, _) => value.to_string(),
            Width::Const(expr) => quote!(#expr).to_string(),
        }
    }
}

/// A `Linear` layer and the width-preserving operations after it, up to the next `Linear`.
pub(crate) struct Stage {
    pub linear: LinearLayer,
    pub ops: Vec<Op>,
}

/// A `Linear` layer.
pub(crate) struct LinearLayer {
    /// The struct field.
    pub field: Ident,
    /// The buffer holding its output `z`.
    pub z: Ident,
    /// The buffer holding the gradient with respect to `z`.
    pub grad: Ident,
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
    /// An activation; `value` is an expression that builds it (`::nn::__private::ReLU`).
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

/// `assert!(condition, message)` at compile time, for widths given as constants: the compiler
/// reports the message at `span`, the constant the user wrote.
pub(crate) struct ConstCheck {
    pub condition: TokenStream,
    pub message: String,
    pub span: Span,
}
