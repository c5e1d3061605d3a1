//! Layers: [`Linear`] and [`Conv1d`] (with parameters) and [`Dropout`] (without), and the
//! sums of residual connections.

mod conv1d;
mod dropout;
mod global_average;
mod linear;
mod residual;

#[doc(hidden)]
pub use conv1d::{conv1d, conv1d_backward_input, conv1d_backward_params, conv1d_forward, widest};
pub use conv1d::{Conv1d, Conv1dSettings};
pub use dropout::Dropout;
#[doc(hidden)]
pub use global_average::global_avg_pool;
pub use global_average::GlobalAvgPool;
pub use linear::Linear;
#[doc(hidden)]
pub use linear::LinearPasses;
#[doc(hidden)]
pub use residual::{add_assign_rows, add_rows};
