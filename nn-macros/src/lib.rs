//! macros
use proc_macro::TokenStream;
/// network
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream { input }
