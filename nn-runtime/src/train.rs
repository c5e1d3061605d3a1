//! The training loop: epochs, shuffled mini-batches, per-epoch loss and accuracy, early stopping.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::loss::{Loss, Target};
use crate::network::Network;
use crate::optim::Optimizer;

/// What one epoch of training measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The number of epochs planned.
    pub epochs: usize,
    /// The mean training loss over the epoch's samples.
    pub loss: f32,
    /// The fraction of samples whose largest output is the label, for label targets.
    pub accuracy: Option<f32>,
    /// Mini-batches left out because their loss or gradients were not finite, with
    /// [`Trainer::skip_non_finite`]; the loss and accuracy are over the other rows.
    pub skipped: usize,
}

impl std::fmt::Display for EpochReport {
    /// PyTorch tutorial style: `Epoch [1/10], Loss: 0.6931`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Epoch [{}/{}], Loss: {:.4}",
            self.epoch, self.epochs, self.loss
        )?;
        if let Some(accuracy) = self.accuracy {
            write!(f, ", Accuracy: {:.2}%", accuracy * 100.0)?;
        }
        if self.skipped > 0 {
            write!(f, ", Skipped batches: {}", self.skipped)?;
        }
        Ok(())
    }
}

/// Whether training goes on after an epoch; returned by the callback of [`Trainer::fit_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Train the next epoch.
    Continue,
    /// Stop now.
    Stop,
}

/// Loss (and accuracy, for label targets) of a network on a whole data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The mean loss.
    pub loss: f32,
    /// The fraction of rows whose largest output is the label, for label targets.
    pub accuracy: Option<f32>,
}

/// Trains a network over a data set in epochs of shuffled mini-batches.
///
/// ```
/// use nn_runtime::{Batch, Trainer};
///
/// let trainer = Trainer::new(10).batch_size(32).shuffle(0).quiet();
/// assert_eq!(trainer.epochs(), 10);
/// # let _ = Batch::<1>::zeros(0);
/// ```
#[derive(Debug, Clone)]
pub struct Trainer {
    epochs: usize,
    batch_size: Option<usize>,
    shuffle_seed: Option<u64>,
    print: bool,
    skip_non_finite: bool,
}

impl Trainer {
    /// A trainer for `epochs` full-batch epochs that prints each epoch's loss.
    pub fn new(epochs: usize) -> Self {
        Trainer {
            epochs,
            batch_size: None,
            shuffle_seed: None,
            print: true,
            skip_non_finite: false,
        }
    }

    /// Mini-batches of `size` rows (the last one may be smaller); by default the whole data set.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = Some(size.max(1));
        self
    }

    /// Shuffles the rows before each epoch, reproducibly from `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// Prints nothing (by default each epoch prints `Epoch [1/10], Loss: 0.6931`).
    pub fn quiet(mut self) -> Self {
        self.print = false;
        self
    }

    /// Leaves out a mini-batch whose loss or gradients are not finite (a NaN in the data, say)
    /// and goes on, counting it in the epoch's [`EpochReport::skipped`]. By default training
    /// stops there with [`Error::Batch`].
    pub fn skip_non_finite(mut self) -> Self {
        self.skip_non_finite = true;
        self
    }

    /// The number of epochs.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Trains `model` on `(x, target)`; returns one report per epoch.
    ///
    /// # Errors
    /// As [`Network::train_step`] for a target that does not fit. A mini-batch whose loss or
    /// gradients are not finite stops training with [`Error::Batch`], which names the epoch and
    /// the batch's rows; the model keeps the weights of the last step that succeeded (or, with
    /// [`skip_non_finite`](Trainer::skip_non_finite), the batch is left out).
    pub fn fit<M, L, O, const IN: usize, const OUT: usize>(
        &self,
        model: &mut M,
        x: &Batch<IN>,
        target: &L::Target,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<Vec<EpochReport>>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT>,
        O: Optimizer,
    {
        let mut reports = Vec::with_capacity(self.epochs);
        self.fit_with(model, x, target, loss, optimizer, |report| {
            reports.push(*report);
            Control::Continue
        })?;
        Ok(reports)
    }

    /// As [`fit`](Trainer::fit), calling `after_epoch` after each epoch, which may stop training.
    ///
    /// # Errors
    /// As [`fit`](Trainer::fit).
    pub fn fit_with<M, L, O, F, const IN: usize, const OUT: usize>(
        &self,
        model: &mut M,
        x: &Batch<IN>,
        target: &L::Target,
        loss: &L,
        optimizer: &mut O,
        mut after_epoch: F,
    ) -> Result<()>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT>,
        O: Optimizer,
        F: FnMut(&EpochReport) -> Control,
    {
        loss.check_target(target, x.rows())?;
        let rows = x.rows();
        let size = self.batch_size.unwrap_or(rows).min(rows);
        let mut order: Vec<usize> = (0..rows).collect();
        let mut rng = self.shuffle_seed.map(StdRng::seed_from_u64);
        let (mut batch_x, mut batch_target) = (Batch::<IN>::zeros(size), target.clone());
        let mut output = Batch::<OUT>::zeros(size);
        for epoch in 1..=self.epochs {
            if let Some(rng) = rng.as_mut() {
                order.shuffle(rng);
            }
            let (mut total, mut correct, mut counted) = (0.0f64, 0usize, false);
            let (mut trained_rows, mut skipped) = (0usize, 0usize);
            for (batch, chunk) in order.chunks(size).enumerate() {
                let step = if chunk.len() == rows && rng.is_none() {
                    model.train_step(x, target, loss, optimizer)
                } else {
                    x.gather_into(chunk, &mut batch_x);
                    target.gather_into(chunk, &mut batch_target);
                    model.train_step(&batch_x, &batch_target, loss, optimizer)
                };
                let step_loss = match step {
                    Ok(value) => value,
                    Err(error) if error.is_non_finite() && self.skip_non_finite => {
                        skipped += 1;
                        continue;
                    }
                    Err(cause) => {
                        return Err(Error::Batch {
                            epoch,
                            batch: batch + 1,
                            rows: chunk.to_vec(),
                            cause: Box::new(cause),
                        })
                    }
                };
                trained_rows += chunk.len();
                total += f64::from(step_loss) * chunk.len() as f64;
                if target.has_classes() {
                    counted = true;
                    let (xs, ts) = if chunk.len() == rows && rng.is_none() {
                        (x, target)
                    } else {
                        (&batch_x, &batch_target)
                    };
                    model.forward_into(xs, &mut output);
                    correct += ts.correct(output.as_slice(), OUT);
                }
            }
            // With every batch skipped there is no loss to report: NaN says so.
            let report = EpochReport {
                epoch,
                epochs: self.epochs,
                loss: (total / trained_rows as f64) as f32,
                accuracy: counted.then(|| correct as f32 / trained_rows as f32),
                skipped,
            };
            if self.print {
                println!("{report}");
            }
            if after_epoch(&report) == Control::Stop {
                break;
            }
        }
        Ok(())
    }
}

/// The loss (and accuracy, for label targets) of `model` on `(x, target)`, in evaluation mode.
///
/// # Errors
/// When the target does not fit `x`, or the loss is not finite.
pub fn evaluate<M, L, const IN: usize, const OUT: usize>(
    model: &M,
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
) -> Result<Evaluation>
where
    M: Network<IN, OUT>,
    L: Loss<OUT>,
{
    loss.check_target(target, x.rows())?;
    let output = model.forward(x);
    let value = loss.loss(output.as_slice(), target);
    if !value.is_finite() {
        return Err(Error::NonFiniteLoss { value });
    }
    let accuracy = target
        .has_classes()
        .then(|| target.correct(output.as_slice(), OUT) as f32 / x.rows() as f32);
    Ok(Evaluation {
        loss: value,
        accuracy,
    })
}
