//! nn
pub use nn_runtime::*;
