//! Export to ONNX: the layers in order, each under PyTorch's name for it, for the runtime's
//! graph writer.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Head, Network, OpKind};

pub(crate) fn expand(network: &Network) -> TokenStream {
    let private = crate::runtime::path();
    let name = &network.name;
    let title = name.to_string();
    let spec = &network.spec;
    let (input, output) = (&network.input, &network.output);
    let layers = network.stages.iter().flat_map(|stage| {
        let head = match &stage.head {
            Head::Linear(linear) => {
                let (field, key) = (&linear.field, &linear.key);
                quote!(graph.linear(#key, &self.#field);)
            }
            // Checked below: a network with these has no ONNX form yet.
            Head::Conv(_) | Head::Sum { .. } => quote!(),
        };
        let ops = stage.ops.iter().filter_map(|op| match &op.kind {
            OpKind::Activation { value } => {
                let key = &op.key;
                Some(quote!(graph.activation(#key, &#value)?;))
            }
            // The evaluation graph: dropout is off.
            OpKind::Dropout { .. } => None,
        });
        std::iter::once(head).chain(ops)
    });
    let unsupported = network.stages.iter().find_map(|stage| match &stage.head {
        Head::Conv(conv) => Some(conv.display.clone()),
        Head::Sum { .. } => Some("Residual".to_owned()),
        Head::Linear(_) => None,
    });
    let body = match unsupported {
        Some(layer) => quote! {
            let _ = graph;
            ::core::result::Result::Err(#private::Error::NoOnnxForm {
                activation: ::std::string::String::from(#layer),
            })
        },
        None => quote! {
            #(#layers)*
            ::core::result::Result::Ok(())
        },
    };
    quote! {
        #[automatically_derived]
        impl #private::ExportOnnx for #name {
            const NAME: &'static str = #title;
            const SPEC: &'static str = #spec;
            const WIDTHS: (usize, usize) = (#input, #output);

            fn write_layers(&self, graph: &mut #private::OnnxGraph) -> ::core::result::Result<(), #private::Error> {
                #body
            }
        }
    }
}
