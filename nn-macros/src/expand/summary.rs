//! `Display`: a summary table of layers, output shapes and parameter counts, like Keras'
//! `model.summary()`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Network;

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let title = name.to_string();
    let rows = network.summary.iter().map(|row| {
        let (display, shape, params) = (&row.display, &row.shape, &row.params);
        quote!((#display, &[#(#shape),*], #params))
    });
    quote! {
        #[automatically_derived]
        impl ::core::fmt::Display for #name {
            /// A table of layers with their output widths and parameter counts.
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #private::write_summary(f, #title, &[#(#rows),*])
            }
        }
    }
}
