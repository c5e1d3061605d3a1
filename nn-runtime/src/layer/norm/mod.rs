//! Normalisation layers: [`BatchNorm`] (PyTorch's `BatchNorm1d` and `BatchNorm2d`) and
//! [`LayerNorm`], with what their passes share, and the entry points generated code calls
//! (`generated.rs`).
//!
//! Their statistics are sums over many values: they are taken in `f64`, the mean first and
//! then the squares of the deviations from it, so that they match PyTorch's (which sums in
//! `double` on the CPU) over large batches and do not lose the variance of values far from 0.

mod batch_norm;
mod generated;
mod layer_norm;

pub use batch_norm::BatchNorm;
#[doc(hidden)]
pub use generated::{
    batch_norm, batch_norm_backward, batch_norm_forward_eval, batch_norm_forward_train, layer_norm,
    layer_norm_backward, layer_norm_forward,
};
pub use layer_norm::LayerNorm;

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

/// Refuses an `eps` that is negative or not finite, which would make the normalisation's
/// square root NaN. PyTorch accepts any float; zero is allowed as it is there.
fn check_eps(name: &'static str, eps: f32) -> Result<f32> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(eps)
    } else {
        Err(Error::InvalidArgument {
            name,
            message: format!("must be finite and at least 0, found {eps}"),
        })
    }
}

/// Refuses a zero size `name`: a layer with nothing to normalise.
fn check_positive(name: &'static str, value: usize) -> Result<usize> {
    if value == 0 {
        Err(Error::InvalidArgument {
            name,
            message: "must be at least 1, found 0".to_owned(),
        })
    } else {
        Ok(value)
    }
}

/// The mean and the sum of squared deviations from it of `values`, a sequence that can be
/// walked twice, in `f64`.
fn moments<'a, I>(values: impl Fn() -> I) -> (f64, f64)
where
    I: Iterator<Item = &'a [f32]>,
{
    let (mut sum, mut count) = (0.0f64, 0usize);
    for run in values() {
        sum += sum_by(run, |x| x);
        count += run.len();
    }
    let mean = sum / count as f64;
    let squares = values()
        .map(|run| sum_by(run, |x| (x - mean).powi(2)))
        .sum();
    (mean, squares)
}

/// `Σ term(x)` over `run` in `f64`, in four interleaved partial sums: one `f64` sum is a chain
/// of additions each waiting for the last, four keep the adder busy (and vectorise).
#[inline(always)]
fn sum_by(run: &[f32], term: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; 4];
    let chunks = run.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().map(|&x| term(f64::from(x))).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += term(f64::from(x));
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}
