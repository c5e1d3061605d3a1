//! Export to ONNX: the layers in order, each under PyTorch's name for it, for the runtime's
//! graph writer. The order and the names were decided in `lower` (`Network::onnx`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Network, OnnxStep};

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let title = name.to_string();
    let spec = &network.spec;
    let (input, output) = (&network.input, &network.output);
    let steps = network.onnx.iter().map(|step| match step {
        OnnxStep::ReshapeInput { dims } => {
            quote!(graph.reshape_input(&[#(#dims),*]);)
        }
        OnnxStep::Linear { key, field } => quote!(graph.linear(#key, &self.#field);),
        OnnxStep::Conv { key, field, passes } => {
            let method = format_ident!("{passes}");
            quote!(graph.#method(#key, &self.#field);)
        }
        OnnxStep::Pool {
            key,
            method,
            dims,
            kernel,
            stride,
            padding,
        } => {
            let method = format_ident!("{method}");
            quote!(graph.#method(#key, #dims, #kernel, #stride, #padding);)
        }
        OnnxStep::Flatten { key } => quote!(graph.flatten(#key);),
        OnnxStep::GlobalAveragePool { key } => quote!(graph.global_average_pool(#key);),
        OnnxStep::Norm { key, field, passes } => {
            let method = format_ident!("{passes}");
            quote!(graph.#method(#key, &self.#field);)
        }
        OnnxStep::Activation { key, value } => quote!(graph.activation(#key, &#value)?;),
        OnnxStep::Skip { skip } => quote!(let #skip = graph.output();),
        OnnxStep::Residual { key, skip } => quote!(graph.residual(#key, &#skip);),
    });
    quote! {
        #[automatically_derived]
        impl #private::ExportOnnx for #name {
            const NAME: &'static str = #title;
            const SPEC: &'static str = #spec;
            const WIDTHS: (usize, usize) = (#input, #output);

            fn write_layers(&self, graph: &mut #private::OnnxGraph) -> ::core::result::Result<(), #private::Error> {
                #(#steps)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
