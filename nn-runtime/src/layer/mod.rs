//! Layers: [`Linear`] and [`Conv1d`] (with parameters), [`BatchNorm`] (with parameters and
//! running statistics), [`LayerNorm`] (with parameters, or none) and [`Dropout`] (without),
//! and the sums of residual connections.

mod conv1d;
mod dropout;
mod global_average;
mod linear;
mod norm;
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
pub use norm::{
    batch_norm, batch_norm_backward_input, batch_norm_backward_params, batch_norm_forward_eval,
    batch_norm_forward_train, layer_norm, layer_norm_backward_input, layer_norm_backward_params,
    layer_norm_forward,
};
pub use norm::{BatchNorm, LayerNorm};
#[doc(hidden)]
pub use residual::{add_assign_rows, add_rows};
