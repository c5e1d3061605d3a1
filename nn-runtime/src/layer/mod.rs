//! Layers: [`Linear`], [`Conv1d`] and [`Conv2d`] (with parameters), [`BatchNorm`] (with
//! parameters and running statistics), [`LayerNorm`] (with parameters, or none),
//! [`MaxPool1d`], [`MaxPool2d`], [`AvgPool1d`], [`AvgPool2d`], [`GlobalAvgPool`] and
//! [`Dropout`] (without), and the sums of residual connections.

mod conv;
mod conv1d;
mod conv2d;
mod dropout;
mod linear;
mod norm;
mod pool;
mod residual;
mod window;

#[doc(hidden)]
pub use conv::{conv_backward_input, conv_backward_params, conv_forward, widest, ConvPasses};
#[doc(hidden)]
pub use conv1d::conv1d;
pub use conv1d::{Conv1d, Conv1dSettings};
#[doc(hidden)]
pub use conv2d::conv2d;
pub use conv2d::{Conv2d, Conv2dSettings};
pub use dropout::Dropout;
#[doc(hidden)]
pub use linear::Linear;
#[doc(hidden)]
pub use linear::LinearPasses;
#[doc(hidden)]
pub use norm::{
    batch_norm, batch_norm_backward, batch_norm_forward_eval, batch_norm_forward_train, layer_norm,
    layer_norm_backward, layer_norm_forward,
};
pub use norm::{BatchNorm, LayerNorm};
pub use pool::{
    avg_pool1d, avg_pool2d, global_avg_pool, max_pool1d, max_pool2d, pool_backward, pool_forward,
    PoolPasses,
};
pub use pool::{AvgPool1d, AvgPool2d, GlobalAvgPool, MaxPool1d, MaxPool2d};
#[doc(hidden)]
pub use residual::{add_assign_rows, add_rows};
#[doc(hidden)]
pub use window::{per_group, window_output, window_reach};

use crate::error::{Error, Result};
use crate::size;

/// The first `rows` rows of `width` values of `values`.
fn rows_of(values: &[f32], rows: usize, width: usize) -> Result<&[f32]> {
    let len = size::checked_values(rows, width)?;
    values.get(..len).ok_or(Error::Length {
        rows,
        width,
        found: values.len(),
    })
}

/// As [`rows_of`], for writing.
fn rows_of_mut(values: &mut [f32], rows: usize, width: usize) -> Result<&mut [f32]> {
    let len = size::checked_values(rows, width)?;
    let found = values.len();
    values
        .get_mut(..len)
        .ok_or(Error::Length { rows, width, found })
}

/// A broken promise of `network!`'s, for the infallible entry points of generated code: the
/// macro has checked every setting and sized every buffer, so its checks and the runtime's
/// disagree. Better said than carried on with wrong values.
#[cold]
fn broken(error: &Error) -> ! {
    unreachable!("network! checked this layer and sized its buffers, yet: {error}")
}
