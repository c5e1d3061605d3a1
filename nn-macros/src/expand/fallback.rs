//! What a `network!` call with errors expands to: the errors, and a stand-in with the declared
//! name and methods, so that code using the network adds no errors of its own under ours.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Expr, Ident};

use crate::parse::NetworkInput;

/// The widths of the first and last `Linear`, where they are written plainly enough to use:
/// the stand-in then has typed `forward` methods, and code using it type-checks as usual.
fn declared_widths(input: &NetworkInput) -> Option<(Expr, Expr)> {
    let width = |layer: &crate::parse::LayerCall, i: usize| {
        let arg = layer.arg_list().get(i).copied()?;
        let plain_integer = matches!(
            arg,
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_),
                ..
            })
        );
        (plain_integer || crate::check::is_constant(arg)).then(|| arg.clone())
    };
    let mut linears = input
        .chain
        .layers
        .iter()
        .filter(|layer| layer.name.is_ident("Linear"));
    let first = linears.next()?;
    let last = linears.next_back().unwrap_or(first);
    Some((width(first, 0)?, width(last, 1)?))
}

pub(crate) fn expand(input: &NetworkInput, errors: &syn::Error) -> TokenStream {
    let private = crate::runtime::path();
    let errors = errors.to_compile_error();
    let (attrs, vis, name) = match &input.item {
        Some(item) => (
            &item.attrs[..],
            item.vis.to_token_stream(),
            item.name.clone(),
        ),
        None => (&[][..], quote!(), Ident::new("Network", Span::call_site())),
    };
    let docs = attrs.iter().filter(|a| a.path().is_ident("doc"));
    let forward = match declared_widths(input) {
        Some((inputs, outputs)) => quote! {
            /// Not available: the declaration has errors.
            pub fn forward(&self, x: &#private::Batch<#inputs>) -> #private::Batch<#outputs> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn forward_into(&mut self, x: &#private::Batch<#inputs>, out: &mut #private::Batch<#outputs>) {}
            /// Not available: the declaration has errors.
            pub fn forward_train(&mut self, x: &#private::Batch<#inputs>) -> #private::Batch<#outputs> { ::core::unreachable!() }
        },
        None => quote! {
            /// Not available: the declaration has errors.
            pub fn forward<T>(&self, x: T) -> ! { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn forward_into<T, U>(&mut self, x: T, out: U) {}
            /// Not available: the declaration has errors.
            pub fn forward_train<T>(&mut self, x: T) -> ! { ::core::unreachable!() }
        },
    };
    let stand_in = quote! {
        #(#docs)*
        #vis struct #name;

        #[allow(dead_code, unused_variables, clippy::diverging_sub_expression)]
        impl #name {
            /// Not available: the declaration has errors.
            pub const INPUT: usize = 0;
            /// Not available: the declaration has errors.
            pub const OUTPUT: usize = 0;
            /// Not available: the declaration has errors.
            pub const PARAMS: usize = 0;
            /// Not available: the declaration has errors.
            pub fn seeded(seed: u64) -> Self { Self }
            /// Not available: the declaration has errors.
            pub fn new<R: ?Sized>(rng: &mut R) -> Self { Self }
            #forward
            /// Not available: the declaration has errors.
            pub fn backward<T>(&mut self, grad: T) -> ::core::result::Result<(), #private::Error> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn train_step<A, B, C, D>(&mut self, x: A, target: B, loss: C, optimizer: D) -> ::core::result::Result<f32, #private::Error> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn zero_grad(&mut self) {}
            /// Not available: the declaration has errors.
            pub fn save_safetensors<P>(&self, path: P) -> ::core::result::Result<(), #private::Error> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn load_safetensors<P>(&mut self, path: P) -> ::core::result::Result<(), #private::Error> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn save_onnx<P>(&self, path: P) -> ::core::result::Result<(), #private::Error> { ::core::unreachable!() }
            /// Not available: the declaration has errors.
            pub fn onnx_bytes(&self) -> ::core::result::Result<::std::vec::Vec<u8>, #private::Error> { ::core::unreachable!() }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { ::core::result::Result::Ok(()) }
        }
    };
    if input.item.is_some() {
        quote! { #errors #stand_in }
    } else {
        quote! {{ #errors #stand_in #name }}
    }
}
