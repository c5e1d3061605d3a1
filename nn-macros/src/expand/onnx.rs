//! Export to ONNX: the layers in order, each under PyTorch's name for it, for the runtime's
//! graph writer.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Network, OpKind};

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let title = name.to_string();
    let spec = &network.spec;
    let (input, output) = (&network.input, &network.output);
    let layers = network.stages.iter().flat_map(|stage| {
        let (field, key) = (&stage.linear.field, &stage.linear.key);
        let linear = quote!(graph.linear(#key, &self.#field););
        let ops = stage.ops.iter().filter_map(|op| match &op.kind {
            OpKind::Activation { value } => {
                let key = &op.key;
                Some(quote!(graph.activation(#key, &#value)?;))
            }
            // The evaluation graph: dropout is off.
            OpKind::Dropout { .. } => None,
        });
        std::iter::once(linear).chain(ops)
    });
    quote! {
        #[automatically_derived]
        impl #private::ExportOnnx for #name {
            const NAME: &'static str = #title;
            const SPEC: &'static str = #spec;
            const WIDTHS: (usize, usize) = (#input, #output);

            fn write_layers(&self, graph: &mut #private::OnnxGraph) -> ::core::result::Result<(), #private::Error> {
                #(#layers)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
