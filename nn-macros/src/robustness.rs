//! `network!` never panics: whatever tokens it is given, it returns code or spanned errors, and
//! the code is valid Rust. Inputs are built from the grammar's pieces (labels that collide with
//! generated names, keywords, every layer, good and bad arguments) and from stray tokens.

use proptest::prelude::*;

use crate::parse::NetworkInput;

/// Labels, including every name the expansion uses for itself and keywords.
const LABELS: &[&str] = &[
    "fc1",
    "fc2",
    "input",
    "rows",
    "buffers",
    "relu",
    "d_fc1",
    "linear2",
    "x",
    "network",
    "value",
    "output",
    "slots",
    "r#type",
    "type",
    "fn",
    "self",
    "Self",
    "_",
    "forward_with",
    "nn",
    "R",
    "L",
];

/// Layer names: built-in, misspelt, custom, paths and things that are not names.
const LAYERS: &[&str] = &[
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Dropout",
    "LeakyReLU",
    "GELU",
    "Softmax",
    "ELU",
    "Hardtanh",
    "Softplus",
    "Identity",
    "Input",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "Flatten",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Residual",
    "Residual",
    "Sigmod",
    "linear",
    "Swish",
    "my::Swish",
    "Scaled",
    "r#Linear",
    "crate::X",
    "5",
    "\"s\"",
];

/// Argument lists, well and badly formed.
const ARGUMENTS: &[&str] = &[
    "",
    "()",
    "(4, 8)",
    "(8, 8)",
    "(8, 4)",
    "(0, 4)",
    "(4, 0)",
    "(HIDDEN, 8)",
    "(8, HIDDEN)",
    "(99999999999999999999999, 1)",
    "(-3, 4)",
    "(2.5, 4)",
    "(0.2)",
    "(1.5)",
    "(-0.5)",
    "(\"tanh\")",
    "(\"fast\")",
    "(p = 0.1)",
    "(q = 1)",
    "(negative_slope = 0.2)",
    "(4, 8, 9)",
    "(4,)",
    "(,)",
    "(true)",
    "(x + 1, 2)",
    "({ 1 }, 2)",
    "(4, 8",
    "[4, 8]",
    "(/// doc\n HIDDEN, 8)",
    "(#[x] SLOPE)",
    "(<T as W>::N, 4)",
    "(1, 8)",
    "(8, 8)",
    "(1, 8, 8)",
    "(8, 8, 3)",
    "(8, 8, 3, stride = 2, padding = 1)",
    "(8, 8, 1, padding = 0, dilation = 2)",
    "(8, 8, 3, groups = 3)",
    "(4, 8, 3, bias = false)",
    "(8, 8, 99)",
    "(2)",
    "(3, 1, 1)",
    "(Linear(8, 8) -> ReLU)",
    "(Conv1d(8, 8, 3, padding = 1) -> ReLU)",
    "(Residual(Linear(8, 8)))",
    "(fc1: Linear(8, 8) -> Dropout)",
    "(ReLU)",
    "(Input(1, 8))",
    // Sizes given as constants, alone and beside numbers.
    "(C, 8)",
    "(C, L)",
    "(C, H, W)",
    "(1, C, K)",
    "(C, C, K, stride = S, padding = P, dilation = D, groups = G)",
    "(8, C, 3, groups = G)",
    "(K)",
    "(K, stride = S, padding = P)",
    "(sizes::K, padding = 1)",
    "(ONE)",
];

const SEPARATORS: &[&str] = &["->", "->", "->", "->", "- >", ",", "", "=>", "->->"];

fn layer() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop::sample::select(LABELS)),
        prop::sample::select(LAYERS),
        prop::sample::select(ARGUMENTS),
    )
        .prop_map(|(label, name, args)| match label {
            Some(label) => format!("{label}: {name}{args}"),
            None => format!("{name}{args}"),
        })
}

fn chain() -> impl Strategy<Value = String> {
    prop::collection::vec((layer(), prop::sample::select(SEPARATORS)), 0..7).prop_map(|parts| {
        let mut chain = String::new();
        for (i, (layer, separator)) in parts.iter().enumerate() {
            if i > 0 {
                chain.push_str(separator);
                chain.push(' ');
            }
            chain.push_str(layer);
            chain.push(' ');
        }
        chain
    })
}

fn invocation() -> impl Strategy<Value = String> {
    let name = prop::sample::select(&["SimpleNN", "R", "L", "Network", "r#Type", "type"][..]);
    let header = prop::sample::select(&["", "pub ", "/// doc\n#[derive(Clone)] ", "#[x] "][..]);
    (chain(), name, header, any::<bool>()).prop_map(|(chain, name, header, named)| {
        if named {
            format!("{header}struct {name} {{ {chain} }}")
        } else {
            chain
        }
    })
}

/// Expands `source` as `network!` would, and checks that the result is valid Rust.
fn expand_source(source: &str) {
    let Ok(input) = syn::parse_str::<NetworkInput>(source) else {
        return; // a syntax error, reported by syn at its token
    };
    let tokens = crate::expand::network(&input);
    let file = syn::parse2::<syn::File>(tokens.clone())
        .or_else(|_| syn::parse2::<syn::File>(quote::quote!(fn network() { #tokens })));
    assert!(file.is_ok(), "invalid expansion of `{source}`:\n{tokens}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_macro_never_panics_on_the_grammars_pieces(source in invocation()) {
        expand_source(&source);
    }

    #[test]
    fn the_macro_never_panics_on_stray_tokens(
        source in invocation(),
        at in any::<prop::sample::Index>(),
        stray in prop::sample::select(&[":", "::", "(", ")", "{", "}", "->", "#", "'a", "1e99", "r#", "struct", "-"][..]),
    ) {
        let split = at.index(source.len() + 1);
        if source.is_char_boundary(split) {
            expand_source(&format!("{} {stray} {}", &source[..split], &source[split..]));
        }
    }
}

/// What the fuzzer found: a width after a doc comment is an attribute on a path, which no
/// generated code may copy as an expression, stand-in included.
#[test]
fn a_width_after_a_doc_comment_is_an_error_with_valid_code() {
    expand_source("Linear(/// doc\nHIDDEN, 3) -> LeakyReLU(#[x] SLOPE) -> Linear(3, 1)");
    expand_source("struct A { Linear(4, 3) -> Linear(3, /// doc\nOUT) }");
}
