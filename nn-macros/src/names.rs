//! Names for what `network!` generates: fields, buffers and type parameters that cannot collide
//! with a name the user chose, and Rust keywords made raw.

use std::collections::HashSet;

use proc_macro2::Span;
use quote::ToTokens;
use syn::Ident;

/// A set of names in one namespace; [`fresh`](Names::fresh) hands out unused ones.
pub(crate) struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// A namespace in which `taken` are already used.
    pub fn new<S: ToString>(taken: impl IntoIterator<Item = S>) -> Self {
        Names {
            taken: taken.into_iter().map(|name| name.to_string()).collect(),
        }
    }

    /// `base` if it is free, else `base_1`, `base_2`, …; the name is taken from then on.
    pub fn fresh(&mut self, base: &str) -> Ident {
        let mut name = base.to_owned();
        let mut n = 0;
        while self.taken.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.taken.insert(name.clone());
        ident(&name)
    }
}

/// `name` as an identifier, raw where it is a keyword (`r#type`).
pub(crate) fn ident(name: &str) -> Ident {
    if is_keyword(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// Whether `name` is a Rust keyword, reserved word included (`type`, `fn`, `self`, `abstract`).
pub(crate) fn is_keyword(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_err()
}

/// Keywords that cannot be raw identifiers, and so cannot name anything.
pub(crate) fn never_a_name(name: &str) -> bool {
    matches!(name, "self" | "Self" | "super" | "crate" | "_")
}

/// Every identifier in `tokens`, nested groups included.
pub(crate) fn identifiers(tokens: impl ToTokens) -> HashSet<String> {
    fn walk(tokens: proc_macro2::TokenStream, out: &mut HashSet<String>) {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Ident(ident) => {
                    out.insert(ident.to_string());
                }
                proc_macro2::TokenTree::Group(group) => walk(group.stream(), out),
                _ => {}
            }
        }
    }
    let mut out = HashSet::new();
    walk(tokens.into_token_stream(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_avoid_taken_ones_and_keywords_become_raw() {
        let mut names = Names::new(["buffers", "relu", "relu_1"]);
        assert_eq!(names.fresh("buffers"), "buffers_1");
        assert_eq!(names.fresh("relu"), "relu_2");
        assert_eq!(names.fresh("fc1"), "fc1");
        assert_eq!(names.fresh("fc1"), "fc1_1");
        assert_eq!(names.fresh("type"), "r#type");
        assert!(is_keyword("fn") && is_keyword("abstract") && !is_keyword("fc1"));
        assert!(never_a_name("self") && !never_a_name("type"));
        let found = identifiers(quote::quote!(Linear(L, HIDDEN) -> my::Swish(O)));
        for name in ["Linear", "L", "HIDDEN", "my", "Swish", "O"] {
            assert!(found.contains(name), "{name}");
        }
    }
}
