//! `Display`: a summary table of layers, output widths and parameter counts, like Keras'
//! `model.summary()`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Network;

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let title = name.to_string();
    let rows = network.stages.iter().flat_map(|stage| {
        let (i, o) = (&stage.linear.inputs, &stage.linear.outputs);
        let linear = &stage.linear.display;
        std::iter::once(quote!((#linear, #o, #i * #o + #o))).chain(stage.ops.iter().map(
            move |op| {
                let display = &op.display;
                quote!((#display, #o, 0))
            },
        ))
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
