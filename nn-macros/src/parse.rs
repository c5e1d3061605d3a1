//! The syntax tree of one `network!` call: what the user wrote, every node with its tokens.
//!
//! ```text
//! input  := struct | chain
//! struct := attribute* visibility? "struct" IDENT "{" chain "}"
//! chain  := layer ("->" layer)*
//! layer  := (IDENT ":")? PATH ("(" expr ("," expr)* ","? ")")?
//!         | "Residual" "(" chain ")"
//! ```
//!
//! Parsing is loose: any path is accepted as a layer name and any expressions as arguments, so
//! that `check` can report unknown names and bad arguments together, with good words. Only
//! real syntax errors (a missing or trailing `->`, a stray token) stop here.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{braced, parenthesized, token, Attribute, Expr, Ident, Path, Token, Visibility};

/// A whole `network!` call.
pub(crate) struct NetworkInput {
    /// `Some` for the named form `struct Name { … }`, `None` for an anonymous expression.
    pub item: Option<ItemHeader>,
    pub chain: Chain,
}

/// `#[attrs] pub struct Name`.
pub(crate) struct ItemHeader {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
}

/// `layer -> layer -> …`, and where it was written (for errors about the chain as a whole).
pub(crate) struct Chain {
    pub layers: Vec<LayerCall>,
    pub span: Span,
}

/// One layer: `fc1: Linear(64, 128)`, `ReLU`, `LeakyReLU(0.2)`, `my::Swish`.
pub(crate) struct LayerCall {
    pub label: Option<Ident>,
    pub name: Path,
    /// `None` when written without parentheses.
    pub args: Option<LayerArgs>,
    /// The chain inside `Residual(…)`, which takes layers rather than arguments.
    pub body: Option<Body>,
}

/// The parenthesised chain of a `Residual`.
pub(crate) struct Body {
    pub paren: token::Paren,
    pub chain: Chain,
}

/// The parenthesised arguments of a layer.
pub(crate) struct LayerArgs {
    pub paren: token::Paren,
    pub list: Punctuated<Expr, Token![,]>,
}

impl LayerCall {
    /// The arguments, empty when written without parentheses.
    pub fn arg_list(&self) -> Vec<&Expr> {
        self.args.iter().flat_map(|a| a.list.iter()).collect()
    }

    /// `Linear(20, 32)`, `LeakyReLU(0.1)`, `ReLU`: the call as written, without its label and
    /// without spaces before `(`.
    pub fn text(&self) -> String {
        let name = self.name.to_token_stream().to_string().replace(' ', "");
        if let Some(body) = &self.body {
            return format!("{name}({})", body.chain.text());
        }
        match &self.args {
            None => name,
            Some(_) => {
                let args: Vec<String> = self
                    .arg_list()
                    .iter()
                    .map(|a| a.to_token_stream().to_string().replace(" :: ", "::"))
                    .collect();
                format!("{name}({})", args.join(", "))
            }
        }
    }
}

impl ToTokens for LayerCall {
    /// The call as written, without its label: errors about the whole call underline this.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some(args) = &self.args {
            args.paren
                .surround(tokens, |inner| args.list.to_tokens(inner));
        }
        if let Some(body) = &self.body {
            body.paren
                .surround(tokens, |inner| body.chain.to_tokens(inner));
        }
    }
}

impl Chain {
    /// `fc1: Linear(4, 8) -> ReLU`: the chain as written, labels included.
    pub fn text(&self) -> String {
        self.layers
            .iter()
            .map(|layer| match &layer.label {
                Some(label) => format!("{}: {}", label.unraw(), layer.text()),
                None => layer.text(),
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

impl ToTokens for Chain {
    /// The layers with their labels, joined by `->`.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                <Token![->]>::default().to_tokens(tokens);
            }
            if let Some(label) = &layer.label {
                label.to_tokens(tokens);
                <Token![:]>::default().to_tokens(tokens);
            }
            layer.to_tokens(tokens);
        }
    }
}

impl Parse for NetworkInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let is_struct =
            input.peek(Token![struct]) || (input.peek(Token![pub]) || !attrs.is_empty());
        if !is_struct {
            let chain = parse_chain(input)?;
            return Ok(NetworkInput { item: None, chain });
        }
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let body;
        let brace = braced!(body in input);
        let mut chain = parse_chain(&body)?;
        if chain.layers.is_empty() {
            // `struct Empty {}`: point at the braces that should hold the layers.
            chain.span = brace.span.join();
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `{ … }`"));
        }
        Ok(NetworkInput {
            item: Some(ItemHeader { attrs, vis, name }),
            chain,
        })
    }
}

fn parse_chain(input: ParseStream) -> syn::Result<Chain> {
    let span = input.span();
    let mut layers = Vec::new();
    if input.is_empty() {
        return Ok(Chain { layers, span });
    }
    loop {
        layers.push(parse_layer(input)?);
        if input.is_empty() {
            break;
        }
        if input.peek(Token![->]) {
            let arrow: Token![->] = input.parse()?;
            if input.is_empty() {
                return Err(syn::Error::new(
                    arrow.span(),
                    "expected a layer after `->`; remove the trailing arrow",
                ));
            }
            continue;
        }
        return Err(input.error("expected `->` between layers"));
    }
    Ok(Chain { layers, span })
}

fn parse_layer(input: ParseStream) -> syn::Result<LayerCall> {
    // `fc1: Linear(…)`: a label is an identifier followed by a single colon. Keywords are read
    // too (`type: Linear(…)`), so that `check` can say how to write them.
    let label = if input.peek(Ident::peek_any) && input.peek2(Token![:]) && !input.peek2(Token![::])
    {
        let label = Ident::parse_any(input)?;
        input.parse::<Token![:]>()?;
        Some(label)
    } else {
        None
    };
    if input.peek(Token![->]) {
        return Err(input.error("expected a layer before `->`"));
    }
    let name: Path = input.call(Path::parse_mod_style).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a layer, such as `Linear(64, 128)` or `ReLU`",
        )
    })?;
    if name.is_ident("Residual") && input.peek(token::Paren) {
        // `Residual(linear2: Linear(100, 100) -> ReLU)`: a chain, not arguments.
        let content;
        let paren = parenthesized!(content in input);
        let chain = parse_chain(&content)?;
        return Ok(LayerCall {
            label,
            name,
            args: None,
            body: Some(Body { paren, chain }),
        });
    }
    let args = if input.peek(token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let list = content.parse_terminated(Expr::parse, Token![,])?;
        Some(LayerArgs { paren, list })
    } else {
        None
    };
    Ok(LayerCall {
        label,
        name,
        args,
        body: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> syn::Result<NetworkInput> {
        syn::parse_str(src)
    }

    #[test]
    fn named_and_anonymous_forms() {
        let named = parse(
            "/// doc\n#[derive(Clone)] pub struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }",
        )
        .unwrap();
        let header = named.item.as_ref().unwrap();
        assert_eq!(header.name, "SimpleNN");
        assert_eq!(header.attrs.len(), 2);
        assert_eq!(named.chain.layers.len(), 4);
        assert_eq!(named.chain.layers[0].label.as_ref().unwrap(), "fc1");
        assert_eq!(named.chain.layers[0].arg_list().len(), 2);
        assert!(named.chain.layers[1].args.is_none());

        let anonymous = parse("Linear(4, 8) -> ELU(1.0) -> my::Swish -> Linear(8, 1)").unwrap();
        assert!(anonymous.item.is_none());
        assert_eq!(anonymous.chain.layers[2].name.segments.len(), 2);
        assert!(parse("struct Empty {}").unwrap().chain.layers.is_empty());

        let residual = parse("Linear(4, 8) -> Residual(fc: Linear(8, 8) -> ReLU) -> ReLU").unwrap();
        let body = &residual.chain.layers[1].body.as_ref().unwrap().chain;
        assert_eq!(body.layers.len(), 2);
        assert_eq!(
            residual.chain.text(),
            "Linear(4, 8) -> Residual(fc: Linear(8, 8) -> ReLU) -> ReLU"
        );
    }

    #[test]
    fn syntax_errors_name_the_problem() {
        let message = |src: &str| parse(src).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(message("Linear(1, 2) ReLU"), "expected `->` between layers");
        assert_eq!(
            message("Linear(1, 2) -> ReLU ->"),
            "expected a layer after `->`; remove the trailing arrow"
        );
        assert_eq!(
            message("Linear(1, 2) -> -> ReLU"),
            "expected a layer before `->`"
        );
        assert_eq!(
            message("Linear(1, 2) -> 5"),
            "expected a layer, such as `Linear(64, 128)` or `ReLU`"
        );
        assert_eq!(
            message("struct A { Linear(1, 2) } extra"),
            "unexpected tokens after the network's `{ … }`"
        );
    }
}
