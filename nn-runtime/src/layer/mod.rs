//! Layers: [`Linear`] (with parameters) and [`Dropout`] (without).

mod dropout;
mod linear;

pub use dropout::Dropout;
pub use linear::Linear;
#[doc(hidden)]
pub use linear::LinearPasses;
