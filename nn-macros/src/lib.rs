//! The `network!` macro of `nn`: declare a network inline, get a statically shaped struct with
//! generated forward and backward passes. Use it through the `nn` crate, which documents it.
//!
//! The macro runs in three stages, each its own module: `parse` reads what the user wrote,
//! `check` validates the whole chain and reports every mistake at once, and `expand` writes
//! the code.

// `fuzz/fuzz_targets/network.rs` compiles these modules too: keep its list the same.
mod check;
mod errors;
mod expand;
mod flat;
mod layers;
mod lower;
mod model;
mod names;
mod parse;
#[cfg(test)]
mod robustness;
mod runtime;
mod shapes;
#[cfg(test)]
mod snapshots;
mod suggest;
mod width;

use proc_macro::TokenStream;
use syn::parse_macro_input;

/// Declares a neural network; see the `nn` crate for the grammar and the generated items.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as parse::NetworkInput);
    expand::network(&input).into()
}
