//! Placeholder.
#![allow(missing_docs)]
pub fn clip_grad_norm() {}
