//! Loss functions, each with its value and its gradient side by side.
//!
//! All losses take the mean over the batch (PyTorch's `reduction='mean'`): over every element for
//! the elementwise losses, over the rows for [`CrossEntropyLoss`] and [`NLLLoss`]. Each declares
//! its target type, so a float target cannot be passed where class indices are expected.

mod bce;
mod bce_with_logits;
mod cross_entropy;
mod huber;
mod l1;
mod mse;
mod nll;
mod smooth_l1;

pub use bce::BCELoss;
pub use bce_with_logits::BCEWithLogitsLoss;
pub use cross_entropy::CrossEntropyLoss;
pub use huber::HuberLoss;
pub use l1::L1Loss;
pub use mse::MSELoss;
pub use nll::NLLLoss;
pub use smooth_l1::SmoothL1Loss;

use crate::activation::RowActivation;
use crate::batch::{Batch, Labels};
use crate::error::{Error, Result};

/// A loss over a network's output, `F` values per row.
///
/// Inputs are row-major slices of `rows × F` values; `rows` is `input.len() / F`. Callers check
/// the target first with [`check_target`](Loss::check_target); the other methods assume it fits.
pub trait Loss<const F: usize> {
    /// What the loss compares the output with: [`Batch<F>`] or [`Labels`].
    type Target: Target;

    /// Checks that `target` has `rows` rows (and fits `F`).
    ///
    /// # Errors
    /// [`Error::RowMismatch`], [`Error::EmptyBatch`] or [`Error::ClassCount`].
    fn check_target(&self, target: &Self::Target, rows: usize) -> Result<()> {
        if rows == 0 {
            return Err(Error::EmptyBatch);
        }
        if target.rows() != rows {
            return Err(Error::RowMismatch {
                input: rows,
                target: target.rows(),
            });
        }
        target.check_width(F)
    }

    /// The mean loss.
    fn loss(&self, input: &[f32], target: &Self::Target) -> f32;

    /// The mean loss, and its gradient with respect to `input` written to `grad`.
    fn loss_and_grad(&self, input: &[f32], target: &Self::Target, grad: &mut [f32]) -> f32;

    /// The mean loss of `output = activation(pre_activation)`, and its gradient with respect to
    /// `pre_activation` written to `grad`.
    ///
    /// By default the gradient goes through `activation`'s derivative. Losses override this
    /// where a combined gradient is simpler and more stable (sigmoid with binary cross-entropy).
    fn loss_and_grad_through<A: RowActivation>(
        &self,
        activation: &A,
        pre_activation: &[f32],
        output: &[f32],
        target: &Self::Target,
        grad: &mut [f32],
    ) -> f32 {
        let loss = self.loss_and_grad(output, target, grad);
        activation.backward_rows(pre_activation, output, grad, F);
        loss
    }

    /// The mean loss of a batch, checked.
    ///
    /// # Errors
    /// As [`check_target`](Loss::check_target).
    fn value(&self, input: &Batch<F>, target: &Self::Target) -> Result<f32> {
        self.check_target(target, input.rows())?;
        Ok(self.loss(input.as_slice(), target))
    }

    /// The mean loss of a batch and its gradient with respect to the batch, checked.
    ///
    /// # Errors
    /// As [`check_target`](Loss::check_target).
    fn value_and_grad(&self, input: &Batch<F>, target: &Self::Target) -> Result<(f32, Batch<F>)> {
        self.check_target(target, input.rows())?;
        let mut grad = Batch::zeros(input.rows());
        let loss = self.loss_and_grad(input.as_slice(), target, grad.as_mut_slice());
        Ok((loss, grad))
    }
}

/// A loss target: rows that can be checked against a batch and gathered into mini-batches.
pub trait Target: Clone {
    /// The number of rows.
    fn rows(&self) -> usize;

    /// Checks the target against a network output `width` wide.
    ///
    /// # Errors
    /// [`Error::ClassCount`] for labels whose class count is not `width`.
    fn check_width(&self, width: usize) -> Result<()>;

    /// Copies the rows at `indices` into `out`, reusing its memory.
    fn gather_into(&self, indices: &[usize], out: &mut Self);

    /// Whether the target holds class indices, so that accuracy means something.
    fn has_classes(&self) -> bool {
        false
    }

    /// How many rows of `output` (row-major, `width` wide) have their largest value at the
    /// target's class; 0 for targets without classes.
    fn correct(&self, output: &[f32], width: usize) -> usize {
        let _ = (output, width);
        0
    }
}

impl<const F: usize> Target for Batch<F> {
    fn rows(&self) -> usize {
        Batch::rows(self)
    }

    fn check_width(&self, _width: usize) -> Result<()> {
        // The width is checked by the type: `Loss<F>` takes a `Batch<F>`.
        Ok(())
    }

    fn gather_into(&self, indices: &[usize], out: &mut Self) {
        Batch::gather_into(self, indices, out);
    }
}

impl Target for Labels {
    fn rows(&self) -> usize {
        self.len()
    }

    fn check_width(&self, width: usize) -> Result<()> {
        if self.classes() != width {
            return Err(Error::ClassCount {
                expected: width,
                found: self.classes(),
            });
        }
        Ok(())
    }

    fn gather_into(&self, indices: &[usize], out: &mut Self) {
        Labels::gather_into(self, indices, out);
    }

    fn has_classes(&self) -> bool {
        true
    }

    fn correct(&self, output: &[f32], width: usize) -> usize {
        output
            .chunks_exact(width.max(1))
            .zip(self.indices())
            .filter(|(row, &label)| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best });
                best.0 == label
            })
            .count()
    }
}
