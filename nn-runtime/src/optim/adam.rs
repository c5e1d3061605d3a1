//! Placeholder.
#![allow(missing_docs, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Default)]
pub struct Adam;
