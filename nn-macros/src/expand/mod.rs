//! Writes the code for a lowered network. Decides nothing: every choice was made in `lower`.
//!
//! The generated code names only the runtime's path ([`runtime::path`](crate::runtime::path))
//! and `::core::…`, so it works without
//! imports and next to user types that share a name with ours. Besides the struct it adds no
//! name to the user's module: its impls and helper functions sit in an unnamed `const _` block.

mod backward;
mod fallback;
mod forward;
mod item;
mod onnx;
mod summary;

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::quote;

use crate::model::Network;
use crate::parse::NetworkInput;
use crate::{check, lower};

/// The expansion of one `network!` call: the network, or the errors and a stand-in.
pub(crate) fn network(input: &NetworkInput) -> TokenStream {
    let network = match check::network(input) {
        Ok(checked) => lower::network(input, checked),
        Err(errors) => return fallback::expand(input, &errors),
    };
    let declaration = item::declaration(&network);
    let sizes = item::sizes(&network);
    let methods = item::methods(&network);
    let forward = forward::expand(&network);
    let backward = backward::expand(&network);
    let summary = summary::expand(&network);
    let onnx = onnx::expand(&network);
    let private = crate::runtime::path();
    let items = quote! {
        #declaration

        const _: () = {
            use #private::LinearPasses as _;

            #sizes
            #methods
            #forward
            #backward
            #summary
            #onnx
        };
    };
    if network.anonymous {
        let name = &network.name;
        quote! {
            {
                #items
                #name::seeded(0)
            }
        }
    } else {
        items
    }
}

/// `let [fc1, relu, _, …] = #slots;`: binds the buffers that `body` uses by their names, and
/// skips the others (a binding nothing reads would be an unused variable).
fn bind_slots(network: &Network, slots: TokenStream, body: &TokenStream) -> TokenStream {
    let used = locals(body);
    let bindings = network.slots().into_iter().map(|slot| {
        if used.contains(slot.binding) {
            let binding = slot.binding;
            quote!(#binding)
        } else {
            quote!(_)
        }
    });
    quote!(let [#(#bindings),*] = #slots;)
}

/// The identifiers of `tokens` that can be locals: not field or method names (after a `.`) nor
/// path segments (after `::`).
fn locals(tokens: &TokenStream) -> Vec<Ident> {
    fn walk(tokens: TokenStream, out: &mut Vec<Ident>) {
        let mut qualified = false;
        for token in tokens {
            match &token {
                TokenTree::Ident(ident) if !qualified => out.push(ident.clone()),
                TokenTree::Group(group) => walk(group.stream(), out),
                _ => {}
            }
            qualified = matches!(&token, TokenTree::Punct(p) if matches!(p.as_char(), '.' | ':'));
        }
    }
    let mut out = Vec::new();
    walk(tokens.clone(), &mut out);
    out
}
