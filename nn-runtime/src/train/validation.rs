//! The data a [`Trainer`](crate::Trainer) evaluates the model on after each epoch, if any.

use super::evaluate::{measure, Evaluation};
use crate::batch::Batch;
use crate::error::Result;
use crate::loss::Loss;
use crate::network::Network;

/// No validation set: the trainer's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoValidation;

/// A validation set, as [`Trainer::validate`](crate::Trainer::validate) takes it: rows as wide as
/// the training rows, with targets of the same kind.
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a, const IN: usize, T> {
    pub(super) x: &'a Batch<IN>,
    pub(super) target: &'a T,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoValidation {}
    impl<const IN: usize, T> Sealed for super::Validation<'_, IN, T> {}
}

/// What a trainer can evaluate after each epoch of training on `Batch<IN>` rows with `T`
/// targets: nothing, or a [`Validation`] set of the same kind. Sealed.
pub trait ValidationSet<const IN: usize, T>: sealed::Sealed {
    /// Checks the targets against the rows and the loss before training starts.
    ///
    /// # Errors
    /// As [`Loss::check_target`].
    #[doc(hidden)]
    fn check<L: Loss<OUT, Target = T>, const OUT: usize>(&self, loss: &L) -> Result<()>;

    /// The model's loss and accuracy on the set, or `None` without one.
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate).
    #[doc(hidden)]
    fn evaluate<M, L, const OUT: usize>(&self, model: &M, loss: &L) -> Result<Option<Evaluation>>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT, Target = T>;
}

impl<const IN: usize, T> ValidationSet<IN, T> for NoValidation {
    fn check<L: Loss<OUT, Target = T>, const OUT: usize>(&self, _: &L) -> Result<()> {
        Ok(())
    }

    fn evaluate<M, L, const OUT: usize>(&self, _: &M, _: &L) -> Result<Option<Evaluation>>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT, Target = T>,
    {
        Ok(None)
    }
}

impl<const IN: usize, T> ValidationSet<IN, T> for Validation<'_, IN, T> {
    fn check<L: Loss<OUT, Target = T>, const OUT: usize>(&self, loss: &L) -> Result<()> {
        loss.check_target(self.target, self.x.rows())
    }

    fn evaluate<M, L, const OUT: usize>(&self, model: &M, loss: &L) -> Result<Option<Evaluation>>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT, Target = T>,
    {
        measure(model, self.x, self.target, loss, false).map(Some)
    }
}
