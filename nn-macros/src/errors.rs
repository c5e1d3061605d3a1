//! Every problem found in one `network!` call, so the user sees them all in one compile.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// Collects errors with their spans; [`finish`](Errors::finish) turns them into one
/// `syn::Error` that expands to one `compile_error!` per message.
#[must_use = "call `finish` so that collected errors are reported"]
#[derive(Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    /// Records `message` at `span`.
    pub fn push(&mut self, span: Span, message: impl Display) {
        let error = syn::Error::new(span, message);
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// Records `message` under all of `tokens`, first to last (a plain span covers only the
    /// first token on stable Rust).
    pub fn push_spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        let error = syn::Error::new_spanned(tokens, message);
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// `Err` with every recorded message, or `Ok` if there were none.
    pub fn finish(self) -> syn::Result<()> {
        self.first.map_or(Ok(()), Err)
    }
}
