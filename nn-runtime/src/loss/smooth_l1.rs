//! Placeholder.
#![allow(missing_docs, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothL1Loss;
