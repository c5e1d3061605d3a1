//! Golden expansions: each `tests/expand/NAME.rs` (the input of one `network!` call) is expanded
//! and pretty-printed, and must equal `tests/expand/NAME.expanded.rs`. A change to generated code
//! then shows up as a readable diff. `NN_BLESS=1 cargo test -p nn-macros` rewrites the files.

use std::path::Path;

fn expand_file(input: &Path) -> String {
    let source = std::fs::read_to_string(input).expect("readable input");
    let parsed: crate::parse::NetworkInput = syn::parse_str(&source).expect("input parses");
    let tokens = crate::expand::network(&parsed);
    // The anonymous form expands to a block expression: wrap it in a function to print it.
    let file = syn::parse2::<syn::File>(tokens.clone())
        .or_else(|_| syn::parse2::<syn::File>(quote::quote!(fn network() { #tokens })))
        .expect("expansion is valid Rust");
    prettyplease::unparse(&file)
}

#[test]
fn expansions_match_their_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let bless = std::env::var_os("NN_BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| !path.to_string_lossy().ends_with(".expanded.rs"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    for input in inputs {
        let expanded = expand_file(&input);
        let snapshot = input.with_extension("expanded.rs");
        if bless {
            std::fs::write(&snapshot, &expanded).expect("writable snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            expected == expanded,
            "{} changed; review the new expansion and run with NN_BLESS=1 to accept it:\n{expanded}",
            input.display()
        );
    }
}
