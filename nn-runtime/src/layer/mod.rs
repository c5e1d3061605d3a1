//! Layers: [`Linear`] and [`Conv1d`] (with parameters) and [`Dropout`] (without).

mod conv1d;
mod dropout;
mod linear;

pub use conv1d::{Conv1d, Conv1dSettings};
pub use dropout::Dropout;
pub use linear::Linear;
#[doc(hidden)]
pub use linear::LinearPasses;
