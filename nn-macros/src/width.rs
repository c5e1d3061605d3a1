//! Sizes: a number the macro knows, or an expression over the user's `usize` constants that
//! only the compiler can evaluate. The arithmetic the shapes need works on both, folding what it
//! knows, so a network written with literals gets the numbers it always got.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::Expr;

/// A width, a channel count, a length, a kernel size: anything the shapes count.
#[derive(Clone)]
pub(crate) enum Width {
    /// A number, and where it was written (the call site for one the macro computed).
    Literal(u64, Span),
    /// A constant as written (`HIDDEN`, `consts::K`), or arithmetic over constants.
    Const(Box<Symbolic>),
}

/// An expression the compiler evaluates, with how messages write it.
#[derive(Clone)]
pub(crate) struct Symbolic {
    tokens: TokenStream,
    text: String,
    /// How tightly the tokens bind, and the text: `window_output(…)` is a call to the compiler
    /// and a sum in a message.
    precedence: Precedence,
    text_precedence: Precedence,
    span: Span,
    /// Conditions without which the value means nothing: a window's output length is 0 when the
    /// window does not fit, and a check on it would only repeat that window's own error.
    requires: Vec<Condition>,
}

/// How tightly an expression binds, to parenthesise it as an operand.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    Sum,
    Product,
    Atom,
}

/// A boolean expression for the compiler, compared by its text.
#[derive(Clone)]
pub(crate) struct Condition(pub TokenStream);

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl ToTokens for Width {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Width::Literal(value, span) => {
                syn::LitInt::new(&value.to_string(), *span).to_tokens(tokens);
            }
            Width::Const(symbolic) => symbolic.tokens.to_tokens(tokens),
        }
    }
}

impl ToTokens for Condition {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.0.to_tokens(tokens);
    }
}

/// Widths are equal when written alike: the same number, or the same expression.
impl PartialEq for Width {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Width {
    /// A number the macro computed.
    pub fn literal(value: u64) -> Width {
        Width::Literal(value, Span::call_site())
    }

    /// A constant the user wrote: `HIDDEN`, `consts::K`.
    pub fn constant(expr: &Expr) -> Width {
        Width::Const(Box::new(Symbolic {
            tokens: expr.to_token_stream(),
            text: quote!(#expr).to_string().replace(" :: ", "::"),
            precedence: Precedence::Atom,
            text_precedence: Precedence::Atom,
            span: expr.span(),
            requires: Vec::new(),
        }))
    }

    /// The number, if the macro knows it.
    pub fn value(&self) -> Option<u64> {
        match self {
            Width::Literal(value, _) => Some(*value),
            Width::Const(_) => None,
        }
    }

    /// Where the width was written: for arithmetic, its first constant.
    pub fn span(&self) -> Span {
        match self {
            Width::Literal(_, span) => *span,
            Width::Const(symbolic) => symbolic.span,
        }
    }

    /// The width as written: `128`, `HIDDEN` or `CHANNELS * 5`.
    pub fn text(&self) -> String {
        match self {
            Width::Literal(value, _) => value.to_string(),
            Width::Const(symbolic) => symbolic.text.clone(),
        }
    }

    /// How a message shows it: a number bare, anything else as code (`` `HIDDEN` ``).
    pub fn show(&self) -> String {
        match self {
            Width::Literal(value, _) => value.to_string(),
            Width::Const(symbolic) => format!("`{}`", symbolic.text),
        }
    }

    /// The width as a const generic argument: arithmetic goes in braces, `Batch<{ C * 40 }>`.
    pub fn generic_argument(&self) -> TokenStream {
        match self {
            Width::Const(symbolic) if symbolic.precedence != Precedence::Atom => {
                let tokens = &symbolic.tokens;
                quote!({ #tokens })
            }
            _ => self.to_token_stream(),
        }
    }

    /// What must hold for the value to mean anything (see [`Symbolic`]).
    pub fn requires(&self) -> &[Condition] {
        match self {
            Width::Literal(..) => &[],
            Width::Const(symbolic) => &symbolic.requires,
        }
    }

    /// `self + other`.
    pub fn plus(&self, other: &Width) -> Width {
        match (self.value(), other.value()) {
            (Some(a), Some(b)) => Width::literal(a.saturating_add(b)),
            (_, Some(0)) => self.clone(),
            (Some(0), _) => other.clone(),
            _ => binary(self, "+", other, Precedence::Sum),
        }
    }

    /// `self * other`.
    pub fn times(&self, other: &Width) -> Width {
        match (self.value(), other.value()) {
            (Some(a), Some(b)) => Width::literal(a.saturating_mul(b)),
            (_, Some(1)) => self.clone(),
            (Some(1), _) => other.clone(),
            _ => binary(self, "*", other, Precedence::Product),
        }
    }

    /// The product of `widths`, 1 for none.
    pub fn product<'a>(widths: impl IntoIterator<Item = &'a Width>) -> Width {
        widths
            .into_iter()
            .fold(Width::literal(1), |product, width| product.times(width))
    }

    /// The input channels each of `groups` groups reads: `channels / groups`.
    pub fn per_group(channels: &Width, groups: &Width) -> Width {
        match (channels.value(), groups.value()) {
            (Some(c), Some(g)) => Width::literal(c / g.max(1)),
            (_, Some(1)) => channels.clone(),
            _ => {
                let private = crate::runtime::path();
                call(
                    quote!(#private::per_group(#channels, #groups)),
                    divided(channels, groups),
                    [channels, groups],
                )
            }
        }
    }

    /// The samples a window of `kernel` taps `dilation` apart spans: `dilation·(kernel − 1) + 1`.
    pub fn window_reach(kernel: &Width, dilation: &Width) -> Width {
        match (kernel.value(), dilation.value()) {
            (Some(k), Some(d)) => Width::literal(d * k.saturating_sub(1) + 1),
            (_, Some(1)) => kernel.clone(),
            _ => {
                let private = crate::runtime::path();
                let taps = match kernel.value() {
                    Some(k) => k.saturating_sub(1).to_string(),
                    None => format!("({} - 1)", operand(kernel, Precedence::Sum).1),
                };
                let text = format!("{} * {taps} + 1", operand(dilation, Precedence::Product).1);
                call(
                    quote!(#private::window_reach(#kernel, #dilation)),
                    (text, Precedence::Sum),
                    [kernel, dilation],
                )
            }
        }
    }

    /// The outputs along an axis of `length` samples of a window (PyTorch's
    /// `⌊(length + 2·padding − reach) / stride⌋ + 1`), for settings of which one at least is a
    /// constant: the runtime's `window_output` call, and its formula for messages.
    pub fn window_output(
        length: &Width,
        [kernel, stride, padding, dilation]: [&Width; 4],
    ) -> (TokenStream, String) {
        let private = crate::runtime::path();
        let padded = length.plus(&Width::literal(2).times(padding));
        let reach = Width::window_reach(kernel, dilation);
        let difference = format!(
            "{} - {}",
            operand(&padded, Precedence::Sum).1,
            operand(&reach, Precedence::Product).1
        );
        let text = match stride.value() {
            Some(1) => format!("{difference} + 1"),
            _ => format!(
                "({difference}) / {} + 1",
                operand(stride, Precedence::Atom).1
            ),
        };
        (
            quote!(#private::window_output(#length, #kernel, #stride, #padding, #dilation)),
            text,
        )
    }

    /// A size generated code holds in the constant `name`, which is 0 when the size means
    /// nothing (a window that does not fit); `text` is how messages write it.
    pub fn named(name: &syn::Ident, text: String, span: Span) -> Width {
        Width::Const(Box::new(Symbolic {
            tokens: name.to_token_stream(),
            text,
            precedence: Precedence::Atom,
            text_precedence: Precedence::Sum,
            span,
            requires: vec![Condition(quote!(#name != 0))],
        }))
    }
}

/// `a op b`, parenthesising operands that bind less tightly (and, on the right, as tightly:
/// `a - (b + c)`).
fn binary(a: &Width, op: &str, b: &Width, precedence: Precedence) -> Width {
    let (left_tokens, left_text) = operand(a, precedence);
    let right = match precedence {
        Precedence::Sum => Precedence::Product,
        _ => Precedence::Atom,
    };
    let (right_tokens, right_text) = operand(b, right);
    let op_tokens: TokenStream = op.parse().expect("an operator");
    let mut width = call(
        // One span for every token, at the first constant: an operator spanned apart from its
        // left operand (at the macro's call, lines away) looks like a missing comma to clippy.
        respanned(
            quote!(#left_tokens #op_tokens #right_tokens),
            Span::call_site().located_at(first_constant([a, b])),
        ),
        (format!("{left_text} {op} {right_text}"), precedence),
        [a, b],
    );
    if let Width::Const(symbolic) = &mut width {
        symbolic.precedence = precedence;
    }
    width
}

/// `tokens`, each spanned at `span`.
fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let stream = respanned(group.stream(), span);
                token = proc_macro2::Group::new(group.delimiter(), stream).into();
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// Where the first constant among `operands` was written, or the call site.
fn first_constant<'a>(operands: impl IntoIterator<Item = &'a Width>) -> Span {
    operands
        .into_iter()
        .find(|w| matches!(w, Width::Const(_)))
        .map_or_else(Span::call_site, Width::span)
}

/// `channels / groups`, for messages.
fn divided(channels: &Width, groups: &Width) -> (String, Precedence) {
    (
        format!(
            "{} / {}",
            operand(channels, Precedence::Product).1,
            operand(groups, Precedence::Atom).1
        ),
        Precedence::Product,
    )
}

/// A width's tokens and text as an operand of an operator of `precedence`.
fn operand(width: &Width, precedence: Precedence) -> (TokenStream, String) {
    match width {
        Width::Literal(..) => (width.to_token_stream(), width.text()),
        Width::Const(symbolic) => {
            let tokens = &symbolic.tokens;
            let tokens = match symbolic.precedence < precedence {
                true => quote!((#tokens)),
                false => tokens.clone(),
            };
            let text = match symbolic.text_precedence < precedence {
                true => format!("({})", symbolic.text),
                false => symbolic.text.clone(),
            };
            (tokens, text)
        }
    }
}

/// An expression computed from `operands`: `tokens` for the compiler, `text` for messages.
fn call<'a>(
    tokens: TokenStream,
    (text, text_precedence): (String, Precedence),
    operands: impl IntoIterator<Item = &'a Width>,
) -> Width {
    let operands: Vec<&Width> = operands.into_iter().collect();
    let span = first_constant(operands.iter().copied());
    let mut requires: Vec<Condition> = Vec::new();
    for condition in operands.iter().flat_map(|w| w.requires()) {
        if !requires.contains(condition) {
            requires.push(condition.clone());
        }
    }
    Width::Const(Box::new(Symbolic {
        tokens,
        text,
        // A call is an atom to the compiler; `binary` says when the tokens are not one.
        precedence: Precedence::Atom,
        text_precedence,
        span,
        requires,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(name: &str) -> Width {
        Width::constant(&syn::parse_str(name).unwrap())
    }

    #[test]
    fn literals_fold_and_constants_stay_written() {
        let (c, k) = (constant("CHANNELS"), constant("consts::K"));
        assert_eq!(Width::literal(3).times(&Width::literal(5)).text(), "15");
        assert_eq!(c.times(&Width::literal(5)).text(), "CHANNELS * 5");
        assert_eq!(c.times(&Width::literal(1)).text(), "CHANNELS");
        assert_eq!(
            c.plus(&k).times(&c).text(),
            "(CHANNELS + consts::K) * CHANNELS"
        );
        assert_eq!(
            c.plus(&k).times(&c).generic_argument().to_string(),
            "{ (CHANNELS + consts :: K) * CHANNELS }"
        );
        assert_eq!(c.generic_argument().to_string(), "CHANNELS");
        assert_eq!(Width::per_group(&c, &Width::literal(1)).text(), "CHANNELS");
        assert_eq!(
            Width::per_group(&Width::literal(24), &k).text(),
            "24 / consts::K"
        );
    }

    #[test]
    fn window_lengths_read_as_pytorch_writes_them() {
        let k = constant("KERNEL");
        let one = Width::literal(1);
        let (tokens, text) =
            Width::window_output(&Width::literal(40), [&k, &Width::literal(2), &one, &one]);
        assert_eq!(text, "(42 - KERNEL) / 2 + 1");
        assert_eq!(
            tokens.to_string(),
            quote!(::nn::__private_0_1::window_output(40, KERNEL, 2, 1, 1)).to_string()
        );
        let name = syn::Ident::new("CONV1_LENGTH", Span::call_site());
        let length = Width::named(&name, text, Span::call_site());
        let (tokens, text) = Width::window_output(&length, [&Width::literal(3), &one, &one, &k]);
        assert_eq!(text, "(42 - KERNEL) / 2 + 1 + 2 - (KERNEL * 2 + 1) + 1");
        assert!(tokens
            .to_string()
            .contains("(CONV1_LENGTH , 3 , 1 , 1 , KERNEL)"));
        let width = Width::literal(8).times(&length);
        assert_eq!(width.text(), "8 * ((42 - KERNEL) / 2 + 1)");
        assert_eq!(width.to_token_stream().to_string(), "8 * CONV1_LENGTH");
        assert_eq!(width.requires()[0].0.to_string(), "CONV1_LENGTH != 0");
    }
}
