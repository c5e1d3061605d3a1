//! Writes the code for a checked network. Decides nothing: every choice was made in `check`.
//!
//! The generated code names only `::nn::__private::…` and `::core::…`, so it works without
//! imports and next to user types that share a name with ours.

mod backward;
mod fallback;
mod forward;
mod item;
mod summary;

use proc_macro2::TokenStream;
use quote::quote;

use crate::check;
use crate::parse::NetworkInput;

/// The expansion of one `network!` call: the network, or the errors and a stand-in.
pub(crate) fn network(input: &NetworkInput) -> TokenStream {
    let network = match check::network(input) {
        Ok(network) => network,
        Err(errors) => return fallback::expand(input, &errors),
    };
    let item = item::expand(&network);
    let forward = forward::expand(&network);
    let backward = backward::expand(&network);
    let summary = summary::expand(&network);
    let items = quote! {
        #item
        #forward
        #backward
        #summary
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
