//! Any text given to `network!` yields code or spanned errors, never a panic, and the code is
//! valid Rust. The macro's own modules are compiled in here, the same list as in
//! `nn-macros/src/lib.rs`: a proc-macro crate exports nothing else a fuzzer could call.
#![no_main]
#![allow(dead_code)]

#[path = "../../nn-macros/src/check.rs"]
mod check;
#[path = "../../nn-macros/src/errors.rs"]
mod errors;
#[path = "../../nn-macros/src/expand/mod.rs"]
mod expand;
#[path = "../../nn-macros/src/flat.rs"]
mod flat;
#[path = "../../nn-macros/src/layers.rs"]
mod layers;
#[path = "../../nn-macros/src/lower.rs"]
mod lower;
#[path = "../../nn-macros/src/model.rs"]
mod model;
#[path = "../../nn-macros/src/names.rs"]
mod names;
#[path = "../../nn-macros/src/parse.rs"]
mod parse;
#[path = "../../nn-macros/src/runtime.rs"]
mod runtime;
#[path = "../../nn-macros/src/shapes.rs"]
mod shapes;
#[path = "../../nn-macros/src/suggest.rs"]
mod suggest;
#[path = "../../nn-macros/src/width.rs"]
mod width;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) = syn::parse_str::<parse::NetworkInput>(source) else {
        return;
    };
    let tokens = expand::network(&input);
    let valid = syn::parse2::<syn::File>(tokens.clone()).is_ok()
        || syn::parse2::<syn::File>(quote::quote!(fn network() { #tokens })).is_ok();
    assert!(valid, "invalid expansion of {source:?}:\n{tokens}");
});
