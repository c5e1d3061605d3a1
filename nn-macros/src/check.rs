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
use crate::model::{ConstCheck, Shape, SizeConst, Width};
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
    /// Sizes computed from constants, which generated code holds in constants of its own.
    pub sizes: Vec<SizeConst>,
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
    // Sizes computed from constants are named apart from every name the call uses.
    let mut taken = names::identifiers(&input.chain);
    if let Some(item) = &input.item {
        taken.insert(item.name.to_string());
    }
    let mut sizes = shapes::Sizes::new(taken);
    let (shapes, mut const_checks) =
        shapes::check(&entries, &resolved, &arguments, &mut sizes, &mut errors);
    const_checks.extend(check_const_sizes_positive(&resolved, &arguments));
    errors.finish()?;
    Ok(Checked {
        resolved,
        arguments,
        shapes,
        const_checks,
        sizes: sizes.defined,
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
    /// A `Count` or a `Size`: an integer literal or a `usize` constant.
    Integer(Width),
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
    /// An integer argument, literal or constant; `None` for any other.
    pub fn integer(&self) -> Option<&Width> {
        match self {
            Argument::Integer(width) => Some(width),
            _ => None,
        }
    }
}

fn default_argument(kind: ArgKind, default: &str) -> Argument {
    match kind {
        ArgKind::Choice(_) => Argument::Choice(default.trim_matches('"').to_owned()),
        ArgKind::Count | ArgKind::Size => {
            Argument::Integer(Width::literal(default.parse().unwrap_or(0)))
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
            _ if is_constant(expr) => Argument::Width(Width::constant(expr)),
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
                Ok(value) if value <= u64::from(u32::MAX) => {
                    Argument::Integer(Width::Literal(value, int.span()))
                }
                _ => {
                    errors.push_spanned(expr, format!("`{written}` is too large for `{name}`"));
                    Argument::Invalid
                }
            },
            _ if is_constant(expr) => Argument::Integer(Width::constant(expr)),
            _ => {
                let expected = match kind {
                    ArgKind::Count => "a positive integer",
                    _ => "an integer",
                };
                errors.push_spanned(
                    expr,
                    format!("`{layer}` expects {expected} or a `usize` constant for `{name}`, found `{written}`"),
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

/// A width given as a constant must be at least 1, as a literal must, and so must a count (a
/// channel count, a kernel size, a stride); the compiler checks it.
///
/// Rejects `const Z: usize = 0;` with `Linear(Z, 4)` or `Conv1d(1, 8, Z)`.
fn check_const_sizes_positive(
    resolved: &[Resolved],
    arguments: &[Vec<Argument>],
) -> Vec<ConstCheck> {
    let mut checks: Vec<ConstCheck> = Vec::new();
    for (kind, args) in resolved.iter().zip(arguments) {
        let Resolved::Builtin(spec) = kind else {
            continue;
        };
        for (arg, argument) in spec.args.iter().zip(args) {
            let (width, message) = match (arg.kind, argument) {
                (ArgKind::Width, Argument::Width(width @ Width::Const(_))) => (
                    width,
                    format!("a width must be at least 1, but `{}` is 0", width.text()),
                ),
                (ArgKind::Count, Argument::Integer(width @ Width::Const(_))) => (
                    width,
                    format!(
                        "`{}`'s `{}` must be at least 1, but `{}` is 0",
                        spec.name,
                        arg.name,
                        width.text()
                    ),
                ),
                _ => continue,
            };
            if checks.iter().any(|check| check.message == message) {
                continue;
            }
            checks.push(ConstCheck {
                condition: quote!(#width >= 1),
                message,
                span: width.span(),
                requires: Vec::new(),
            });
        }
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

#[cfg(test)]
mod constant_sizes {
    use super::*;

    /// The checks left to the compiler, each with how many conditions guard it.
    fn const_checks(src: &str) -> Vec<(String, usize)> {
        let input: NetworkInput = syn::parse_str(src).expect("parses");
        let checked = network(&input).unwrap_or_else(|e| panic!("{e}"));
        checked
            .const_checks
            .iter()
            .map(|c| (c.message.clone(), c.requires.len()))
            .collect()
    }

    #[test]
    fn convolution_checks_on_constants_keep_the_macros_words() {
        let checks = const_checks(
            "Input(1, 40) -> Conv1d(1, CHANNELS, KERNEL, stride = S) -> Conv1d(OTHER, 8, 3, groups = G) -> Flatten -> Linear(HIDDEN, 2)",
        );
        let (first, second) = (
            "`Conv1d(1, CHANNELS, KERNEL, stride = S)`",
            "`Conv1d(OTHER, 8, 3, groups = G)`",
        );
        let length = "`(40 - KERNEL) / S + 1`";
        let expected = [
            (format!("{first}'s kernel spans `KERNEL` samples, more than its padded input's 40 (length 40 + 2 × padding 0): the output would be empty"), 0),
            (format!("{second} has `groups = G`, which does not divide its in_channels, `OTHER`"), 0),
            (format!("{second} has `groups = G`, which does not divide its out_channels, 8"), 0),
            (format!("{second} takes `OTHER` input channels, but {first} before it yields `CHANNELS`, a different number: its output is (`CHANNELS`, {length})"), 0),
            // Only where the first kernel fits: the length after it means nothing otherwise.
            (format!("{second}'s kernel spans 3 samples, more than its padded input (length {length} + 2 × padding 0): the output would be empty"), 1),
            ("`Linear(HIDDEN, 2)` takes `HIDDEN` inputs, but `Flatten` yields `8 * ((40 - KERNEL) / S + 1 - 3 + 1)` (8 channels × `(40 - KERNEL) / S + 1 - 3 + 1`), a different width".to_owned(), 1),
            ("`Conv1d`'s `out_channels` must be at least 1, but `CHANNELS` is 0".to_owned(), 0),
            ("`Conv1d`'s `kernel_size` must be at least 1, but `KERNEL` is 0".to_owned(), 0),
            ("`Conv1d`'s `stride` must be at least 1, but `S` is 0".to_owned(), 0),
            ("`Conv1d`'s `in_channels` must be at least 1, but `OTHER` is 0".to_owned(), 0),
            ("`Conv1d`'s `groups` must be at least 1, but `G` is 0".to_owned(), 0),
            ("a width must be at least 1, but `HIDDEN` is 0".to_owned(), 0),
        ];
        assert_eq!(checks, expected);
    }

    #[test]
    fn pools_and_normalisations_take_constants() {
        let checks = const_checks(
            "Input(C, H, H) -> Conv2d(C, C, 3, padding = P) -> BatchNorm2d(B) -> MaxPool2d(K, padding = P) -> AdaptiveAvgPool2d(ONE) -> Flatten -> LayerNorm(N) -> Linear(N, 2)",
        );
        let messages: Vec<&str> = checks.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`Conv2d(C, C, 3, padding = P)`'s kernel spans 3 samples, more than its padded input (height `H` + 2 × padding `P`): the output would be empty",
                "`BatchNorm2d(B)` normalises `B` channels, but `Conv2d(C, C, 3, padding = P)` before it yields `C`, a different number",
                "`MaxPool2d(K, padding = P)`'s padding, `P`, is more than half its kernel size, `K`",
                "`MaxPool2d(K, padding = P)`'s window of `K` is larger than its padded input (height `H + 2 * P - 3 + 1` + 2 × padding `P`): the output would be empty",
                "`AdaptiveAvgPool2d(ONE)`: only an output size of 1, each channel's average, is supported",
                "`LayerNorm(N)` normalises `N` features, but `Flatten` yields `C`, a different width",
                "`Linear(N, 2)` takes `N` inputs, but `LayerNorm(N)` before it yields `C`, a different width",
                "`Input`'s `channels` must be at least 1, but `C` is 0",
                "`Input`'s `length` must be at least 1, but `H` is 0",
                "`Input`'s `width` must be at least 1, but `H` is 0",
                "`Conv2d`'s `in_channels` must be at least 1, but `C` is 0",
                "`Conv2d`'s `out_channels` must be at least 1, but `C` is 0",
                "`BatchNorm2d`'s `num_features` must be at least 1, but `B` is 0",
                "`MaxPool2d`'s `kernel_size` must be at least 1, but `K` is 0",
                "`AdaptiveAvgPool2d`'s `output_size` must be at least 1, but `ONE` is 0",
                "`LayerNorm`'s `normalized_shape` must be at least 1, but `N` is 0",
                "a width must be at least 1, but `N` is 0",
            ]
        );
    }

    #[test]
    fn numbers_are_still_checked_beside_constants() {
        let input: NetworkInput =
            syn::parse_str("Input(2, 40) -> Conv1d(1, 8, KERNEL) -> Conv1d(8, 8, K + 1)").unwrap();
        let errors: Vec<String> = match network(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        assert_eq!(
            errors,
            [
                "`Conv1d` expects a positive integer or a `usize` constant for `kernel_size`, found `K+1`",
                "`Conv1d(1, 8, KERNEL)` takes 1 input channels, but `Input(2, 40)` before it yields 2: its output is (2, 40)",
            ]
        );
    }
}
