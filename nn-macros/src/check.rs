//! Checks over the whole chain. Each rule is a small function that records its errors and keeps
//! going, so one compile shows every mistake; the result is the [`Checked`] chain that `lower`
//! turns into the model.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, UnOp};

use crate::errors::Errors;
use crate::flat::{self, Entry};
use crate::layers::{self, ArgKind, Kind, LayerSpec};
use crate::model::{ConstCheck, Shape, Width};
use crate::names;
use crate::parse::{LayerCall, NetworkInput};
use crate::{shapes, suggest};

/// A chain that passed every check: what each layer is, its arguments, and what is left to the
/// compiler.
///
/// Its vectors hold one item per entry of the flattened chain ([`flat::entries`]).
pub(crate) struct Checked {
    pub resolved: Vec<Resolved>,
    pub arguments: Vec<Vec<Argument>>,
    /// The shape of each entry's output (a `Residual`'s is its input's, which it keeps).
    pub shapes: Vec<Shape>,
    pub const_checks: Vec<ConstCheck>,
}

/// Checks `input`, or returns every error found.
pub(crate) fn network(input: &NetworkInput) -> syn::Result<Checked> {
    let mut errors = Errors::default();
    let entries = flat::entries(&input.chain);

    // network! { struct Empty {} }
    if entries.is_empty() {
        errors.push(
            input.chain.span,
            "a network needs at least one layer, such as `Linear(64, 2)`",
        );
    }
    let resolved: Vec<Resolved> = entries
        .iter()
        .map(|entry| resolve(entry.call, &mut errors))
        .collect();
    check_labels(&entries, &resolved, &mut errors);
    check_start(&entries, &resolved, &mut errors);
    let arguments: Vec<Vec<Argument>> = entries
        .iter()
        .zip(&resolved)
        .map(|(entry, kind)| match kind {
            Resolved::Builtin(spec) => check_arguments(entry.call, spec, &mut errors),
            _ => Vec::new(),
        })
        .collect();
    let (shapes, mut const_checks) = shapes::check(&entries, &resolved, &arguments, &mut errors);
    const_checks.extend(check_const_widths_positive(&arguments));
    errors.finish()?;
    Ok(Checked {
        resolved,
        arguments,
        shapes,
        const_checks,
    })
}

/// What a layer name refers to.
pub(crate) enum Resolved {
    Builtin(&'static LayerSpec),
    /// A user type implementing the activation trait.
    Custom,
    /// A near miss of a built-in name, already reported.
    Unknown,
}

/// `Sigmod` → unknown layer with a did-you-mean; `Swish` → a custom activation.
fn resolve(layer: &LayerCall, errors: &mut Errors) -> Resolved {
    let Some(ident) = layer.name.get_ident() else {
        return Resolved::Custom;
    };
    let name = ident.to_string();
    if let Some(spec) = layers::find(&name) {
        return Resolved::Builtin(spec);
    }
    match suggest::closest(&name, layers::names()) {
        Some(known) => {
            errors.push(
                ident.span(),
                format!("unknown layer `{name}`; did you mean `{known}`?"),
            );
            Resolved::Unknown
        }
        None => Resolved::Custom,
    }
}

/// Labels name parameters, so each is unique, only layers with parameters take one, and each is
/// a name a field can have.
///
/// Rejects `fc1: Linear(1, 2) -> fc1: Linear(2, 3)`, `act: ReLU` and `type: Linear(1, 2)`
/// (which `r#type:` writes).
fn check_labels(entries: &[Entry], resolved: &[Resolved], errors: &mut Errors) {
    let mut seen: Vec<&Ident> = Vec::new();
    for (entry, kind) in entries.iter().zip(resolved) {
        let layer = entry.call;
        let Some(label) = &layer.label else { continue };
        let has_parameters = matches!(kind, Resolved::Builtin(spec) if spec.has_parameters());
        if !has_parameters && !matches!(kind, Resolved::Unknown) {
            let name = layer.name.to_token_stream().to_string().replace(' ', "");
            errors.push(
                label.span(),
                format!(
                    "`{label}` labels `{name}`, which has no parameters; only layers with parameters (`Linear`, convolutions, normalisations) take a label"
                ),
            );
        }
        let written = label.to_string();
        if names::never_a_name(&written) {
            errors.push(
                label.span(),
                format!("`{written}` cannot be a label; choose another name"),
            );
        } else if names::is_keyword(&written) {
            errors.push(
                label.span(),
                format!("`{written}` is a Rust keyword; write `r#{written}` to use it as a label"),
            );
        }
        if seen.contains(&label) {
            errors.push(label.span(), format!("the label `{label}` is used twice"));
        }
        seen.push(label);
    }
}

/// The input's shape comes from the first layer, so it must be a `Linear` or an `Input`, and
/// `Input` can only come first.
///
/// Rejects `ReLU -> Linear(4, 2)` and `Linear(4, 2) -> Input(1, 2)`.
fn check_start(entries: &[Entry], resolved: &[Resolved], errors: &mut Errors) {
    for (i, (entry, kind)) in entries.iter().zip(resolved).enumerate() {
        let Resolved::Builtin(spec) = kind else {
            if i == 0 && matches!(kind, Resolved::Custom) {
                let name = entry
                    .call
                    .name
                    .to_token_stream()
                    .to_string()
                    .replace(' ', "");
                errors.push_spanned(&entry.call.name, start_message(&name));
            }
            continue;
        };
        match (i, spec.kind) {
            (0, Kind::Linear | Kind::Input) => {}
            (0, _) => errors.push_spanned(&entry.call.name, start_message(spec.name)),
            (_, Kind::Input) => errors.push_spanned(
                &entry.call.name,
                "`Input` gives the shape of the network's input, so it can only come first",
            ),
            _ => {}
        }
    }
}

fn start_message(found: &str) -> String {
    format!(
        "a network must start with `Linear(inputs, outputs)`, `Input(channels, length)` or `Input(channels, height, width)`, which set its input's shape; found `{found}`"
    )
}

/// A checked argument of a built-in layer.
#[derive(Clone)]
pub(crate) enum Argument {
    Width(Width),
    /// An integer literal (`Count` or `Size`), and where it was written.
    Integer(u64, Span),
    Flag(bool),
    /// An `f32` expression.
    Number(TokenStream),
    Choice(String),
    /// Reported already; stands in so later checks can go on.
    Invalid,
}

/// Arity, keywords and the type and range of each argument.
///
/// Rejects `Linear(64)`, `Linear(64, 128, 3)`, `LeakyReLU("x")`, `Dropout(1.5)`, `Linear(0, 4)`.
fn check_arguments(layer: &LayerCall, spec: &LayerSpec, errors: &mut Errors) -> Vec<Argument> {
    if spec.kind == Kind::Residual {
        if layer.body.is_none() {
            errors.push_spanned(
                layer,
                "`Residual` takes a chain of layers, such as `Residual(Linear(64, 64) -> ReLU)`",
            );
        }
        return Vec::new();
    }
    let given = layer.arg_list();
    let count = |n: usize| {
        if n == 1 {
            "1 argument".to_owned()
        } else {
            format!("{n} arguments")
        }
    };
    let arity = if spec.args.is_empty() {
        "takes no arguments".to_owned()
    } else if spec.required() == spec.args.len() {
        format!("takes {} ({})", count(spec.args.len()), spec.signature())
    } else {
        format!(
            "takes at most {} ({})",
            count(spec.args.len()),
            spec.signature()
        )
    };
    let mut slots: Vec<Option<&Expr>> = vec![None; spec.args.len()];
    let mut positional = 0;
    for expr in &given {
        // LeakyReLU(negative_slope = 0.2)
        if let Expr::Assign(assign) = expr {
            let key = assign.left.to_token_stream().to_string();
            match spec.args.iter().position(|a| a.name == key) {
                Some(i) => slots[i] = Some(&assign.right),
                None => errors.push(
                    assign.left.span(),
                    format!("`{}` has no argument `{key}`; it {arity}", spec.name),
                ),
            }
            continue;
        }
        if positional < slots.len() {
            slots[positional] = Some(expr);
        } else {
            errors.push_spanned(
                expr,
                format!("`{}` {arity}, found {}", spec.name, given.len()),
            );
            break;
        }
        positional += 1;
    }
    let missing = spec
        .args
        .iter()
        .zip(&slots)
        .any(|(arg, slot)| slot.is_none() && arg.default.is_none());
    if missing {
        errors.push_spanned(
            layer,
            format!("`{}` {arity}, found {}", spec.name, given.len()),
        );
    }
    spec.args
        .iter()
        .zip(slots)
        .map(|(arg, slot)| match slot {
            None => match arg.default {
                Some(default) => default_argument(arg.kind, default),
                None => Argument::Invalid,
            },
            Some(expr) => check_argument(spec.name, arg.name, arg.kind, expr, errors),
        })
        .collect()
}

impl Argument {
    /// An integer argument's value and where it was written; `None` for any other.
    pub fn integer(&self) -> Option<(u64, Span)> {
        match self {
            Argument::Integer(value, span) => Some((*value, *span)),
            _ => None,
        }
    }
}

fn default_argument(kind: ArgKind, default: &str) -> Argument {
    match kind {
        ArgKind::Choice(_) => Argument::Choice(default.trim_matches('"').to_owned()),
        ArgKind::Count | ArgKind::Size => {
            Argument::Integer(default.parse().unwrap_or(0), Span::call_site())
        }
        ArgKind::Flag => Argument::Flag(default == "true"),
        _ => Argument::Number(float_literal(
            default.parse().unwrap_or(0.0),
            Span::call_site(),
        )),
    }
}

fn check_argument(
    layer: &str,
    name: &str,
    kind: ArgKind,
    expr: &Expr,
    errors: &mut Errors,
) -> Argument {
    let written = expr.to_token_stream().to_string().replace(' ', "");
    match kind {
        ArgKind::Width => match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => match int.base10_parse::<u64>() {
                Ok(0) => {
                    errors.push_spanned(
                        expr,
                        format!("a width must be at least 1, found `{written}`"),
                    );
                    Argument::Invalid
                }
                Ok(value) => Argument::Width(Width::Literal(value, int.span())),
                Err(_) => {
                    errors.push_spanned(expr, format!("`{written}` is too large for a width"));
                    Argument::Invalid
                }
            },
            _ if is_constant(expr) => Argument::Width(Width::Const(expr.clone())),
            _ => {
                errors.push_spanned(
                    expr,
                    format!("a width must be a positive integer or a `usize` constant, found `{written}`"),
                );
                Argument::Invalid
            }
        },
        ArgKind::Number | ArgKind::Probability => match number_literal(expr) {
            Some(value) => {
                if kind == ArgKind::Probability && !(0.0..=1.0).contains(&value) {
                    errors.push_spanned(
                        expr,
                        format!("`{layer}` probability `{name}` must be between 0 and 1, found `{written}`"),
                    );
                    return Argument::Invalid;
                }
                Argument::Number(float_literal(value, expr.span()))
            }
            None if is_constant(expr) => Argument::Number(expr.to_token_stream()),
            None => {
                let found = match expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(_), ..
                    }) => "a string".to_owned(),
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(_), ..
                    }) => "a boolean".to_owned(),
                    _ => format!("`{written}`"),
                };
                errors.push_spanned(
                    expr,
                    format!("`{layer}` expects a number for `{name}`, found {found}"),
                );
                Argument::Invalid
            }
        },
        ArgKind::Count | ArgKind::Size => match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => match int.base10_parse::<u64>() {
                Ok(0) if kind == ArgKind::Count => {
                    errors.push_spanned(
                        expr,
                        format!("`{layer}`'s `{name}` must be at least 1, found 0"),
                    );
                    Argument::Invalid
                }
                Ok(value) if value <= u64::from(u32::MAX) => Argument::Integer(value, int.span()),
                _ => {
                    errors.push_spanned(expr, format!("`{written}` is too large for `{name}`"));
                    Argument::Invalid
                }
            },
            _ => {
                errors.push_spanned(
                    expr,
                    format!("`{layer}` expects an integer literal for `{name}`, found `{written}`"),
                );
                Argument::Invalid
            }
        },
        ArgKind::Flag => match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Argument::Flag(b.value),
            _ => {
                errors.push_spanned(
                    expr,
                    format!("`{layer}` expects `true` or `false` for `{name}`, found `{written}`"),
                );
                Argument::Invalid
            }
        },
        ArgKind::Choice(choices) => match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if choices.contains(&s.value().as_str()) => Argument::Choice(s.value()),
            _ => {
                let options = choices
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(" or ");
                errors.push_spanned(
                    expr,
                    format!("`{layer}` expects {options} for `{name}`, found `{written}`"),
                );
                Argument::Invalid
            }
        },
    }
}

/// Whether `expr` names a constant: a plain path (`HIDDEN`, `config::WIDTH`), with no attribute
/// (`/// doc` before it) and no `<T as Trait>::` qualification, which generated code could not
/// use as an expression.
pub(crate) fn is_constant(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(path) if path.attrs.is_empty() && path.qself.is_none())
}

/// `0.2`, `1`, `-1.5` as a number; anything else `None`.
fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<i64>().ok().map(|v| v as f64),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => number_literal(expr).map(|v| -v),
        Expr::Paren(inner) => number_literal(&inner.expr),
        _ => None,
    }
}

/// `value` as an `f32` literal token, such as `0.1f32` (a negative value as `-1f32`).
fn float_literal(value: f64, span: Span) -> TokenStream {
    let literal = syn::LitFloat::new(&format!("{}f32", value.abs()), span);
    if value < 0.0 {
        quote!(-#literal)
    } else {
        quote!(#literal)
    }
}

/// A width given as a constant must be at least 1, as a literal must; the compiler checks it.
///
/// Rejects `const Z: usize = 0;` with `Linear(Z, 4)`.
fn check_const_widths_positive(arguments: &[Vec<Argument>]) -> Vec<ConstCheck> {
    let mut seen = Vec::new();
    let mut checks = Vec::new();
    for width in arguments.iter().flatten() {
        let Argument::Width(width @ Width::Const(_)) = width else {
            continue;
        };
        let text = width.text();
        if seen.contains(&text) {
            continue;
        }
        checks.push(ConstCheck {
            condition: quote!(#width >= 1),
            message: format!("a width must be at least 1, but `{text}` is 0"),
            span: width.span(),
        });
        seen.push(text);
    }
    checks
}

/// How a message names a layer: `` `fc1` `` if labelled, else `` `Linear(20, 32)` ``.
pub(crate) fn describe(layer: &LayerCall) -> String {
    match &layer.label {
        Some(label) => format!("`{label}`"),
        None => format!("`{}`", layer.text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        let input: NetworkInput = syn::parse_str(src).expect("parses");
        match network(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_tutorial_network_passes() {
        assert!(errors("pub struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }").is_empty());
        assert!(errors("Linear(20, HIDDEN) -> Tanh -> Linear(HIDDEN, 3) -> LeakyReLU(0.1) -> Dropout(0.2) -> Swish").is_empty());
    }

    #[test]
    fn width_mismatch_names_both_layers() {
        assert_eq!(
            errors("struct A { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(64, 2) }"),
            ["`fc2` takes 64 inputs, but `fc1` before it yields 128"]
        );
        assert_eq!(
            errors("Linear(4, 8) -> Linear(9, 1)"),
            ["`Linear(9, 1)` takes 9 inputs, but `Linear(4, 8)` before it yields 8"]
        );
    }

    #[test]
    fn average_pools_check_their_windows_as_max_pools_do() {
        // Positional and named arguments, the stride defaulting to the kernel size.
        assert!(errors(
            "Input(2, 9) -> AvgPool1d(3, 1, 1) -> AvgPool1d(kernel_size = 3, stride = 2) -> Flatten -> Linear(8, 1)"
        )
        .is_empty());
        assert!(errors("Input(1, 5, 7) -> AvgPool2d(2) -> Flatten -> Linear(6, 1)").is_empty());
        assert_eq!(
            errors("Input(1, 4) -> AvgPool1d(5) -> Flatten -> Linear(1, 1)"),
            ["`AvgPool1d(5)`'s window of 5 is larger than its padded input's 4 (length 4 + 2 × padding 0): the output would be empty"]
        );
        assert_eq!(
            errors("Input(1, 8, 8) -> AvgPool2d(3, padding = 2) -> Flatten -> Linear(1, 1)"),
            ["`AvgPool2d(3, padding = 2)`'s padding, 2, is more than half its kernel size, 3"]
        );
        assert_eq!(
            errors("Input(1, 8) -> AvgPool1d(0) -> AvgPool1d(2, stride = 0) -> Flatten -> Linear(1, 1)"),
            [
                "`AvgPool1d`'s `kernel_size` must be at least 1, found 0",
                "`AvgPool1d`'s `stride` must be at least 1, found 0"
            ]
        );
        assert_eq!(
            errors("Linear(4, 8) -> AvgPool1d(2)"),
            ["`AvgPool1d(2)` takes (channels, length), but `Linear(4, 8)` before it yields 8 features; pools come before `Flatten`"]
        );
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        assert_eq!(
            errors("linear(1, 2) -> Relu -> Linear(2, 1) -> Sigmod"),
            [
                "unknown layer `linear`; did you mean `Linear`?",
                "unknown layer `Relu`; did you mean `ReLU`?",
                "unknown layer `Sigmod`; did you mean `Sigmoid`?",
            ]
        );
    }

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            errors("Linear(64)"),
            ["`Linear` takes 2 arguments (in_features, out_features), found 1"]
        );
        assert_eq!(
            errors("Linear(64, 128, 3)"),
            ["`Linear` takes 2 arguments (in_features, out_features), found 3"]
        );
        assert_eq!(
            errors("Linear(1, 2) -> LeakyReLU(\"x\")"),
            ["`LeakyReLU` expects a number for `negative_slope`, found a string"]
        );
        assert_eq!(
            errors("Linear(1, 2) -> Dropout(1.5)"),
            ["`Dropout` probability `p` must be between 0 and 1, found `1.5`"]
        );
        assert_eq!(
            errors("Linear(0, 4)"),
            ["a width must be at least 1, found `0`"]
        );
        assert_eq!(
            errors("Linear(-3, 4) -> Linear(4, 2.5)"),
            [
                "a width must be a positive integer or a `usize` constant, found `-3`",
                "a width must be a positive integer or a `usize` constant, found `2.5`"
            ]
        );
        assert_eq!(
            errors("Linear(/// doc\n HIDDEN, 2) -> LeakyReLU(#[x] SLOPE)"),
            [
                "a width must be a positive integer or a `usize` constant, found `#[doc=\"doc\"]HIDDEN`",
                "`LeakyReLU` expects a number for `negative_slope`, found `#[x]SLOPE`"
            ]
        );
        assert_eq!(
            errors("Linear(1, 2) -> ReLU(3)"),
            ["`ReLU` takes no arguments, found 1"]
        );
        assert!(
            errors("Linear(1, 2) -> LeakyReLU(negative_slope = 0.2) -> GELU(\"tanh\")").is_empty()
        );
        assert_eq!(
            errors("Linear(1, 2) -> GELU(\"fast\")"),
            ["`GELU` expects \"none\" or \"tanh\" for `approximate`, found `\"fast\"`"]
        );
    }

    #[test]
    fn chain_shape_is_checked() {
        assert_eq!(
            errors("struct Empty {}"),
            ["a network needs at least one layer, such as `Linear(64, 2)`"]
        );
        assert_eq!(
            errors("ReLU -> Linear(4, 2)"),
            ["a network must start with `Linear(inputs, outputs)`, `Input(channels, length)` or `Input(channels, height, width)`, which set its input's shape; found `ReLU`"]
        );
    }

    #[test]
    fn labels_are_checked() {
        assert_eq!(
            errors("fc: Linear(1, 2) -> act: ReLU -> fc: Linear(2, 1)"),
            [
                "`act` labels `ReLU`, which has no parameters; only layers with parameters (`Linear`, convolutions, normalisations) take a label",
                "the label `fc` is used twice"
            ]
        );
    }

    #[test]
    fn every_independent_error_is_reported() {
        assert_eq!(errors("Relu -> Linear(0, 2) -> Dropout(2)").len(), 3);
    }

    #[test]
    fn const_widths_are_left_to_the_compiler() {
        let input: NetworkInput = syn::parse_str("Linear(20, HIDDEN) -> Linear(OTHER, 3)").unwrap();
        let checked = network(&input).unwrap();
        let messages: Vec<&str> = checked
            .const_checks
            .iter()
            .map(|c| c.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "`Linear(OTHER, 3)` takes `OTHER` inputs, but `Linear(20, HIDDEN)` before it yields `HIDDEN`, a different width",
                "a width must be at least 1, but `HIDDEN` is 0",
                "a width must be at least 1, but `OTHER` is 0",
            ]
        );
    }
}
