//! The training loop: epochs of shuffled mini-batches, with validation, progress, learning-rate
//! schedules, gradient clipping, early stopping, a history and checkpoints to resume from.

mod checkpoint;
mod early_stopping;
mod evaluate;
mod history;
#[cfg(feature = "plot")]
mod plot;
mod progress;
mod validation;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::loss::{Loss, Target};
use crate::network::Network;
use crate::optim::{clip_grad_norm, LrScheduler, Optimizer, Parameters, ReduceLROnPlateau};
use checkpoint::RunState;
use early_stopping::Watch;
use progress::{BatchPosition, Reporter};

pub use early_stopping::EarlyStopping;
pub use evaluate::{evaluate, ConfusionMatrix, Evaluation};
pub use history::{EpochReport, History};
pub use progress::Progress;
pub use validation::{NoValidation, Validation, ValidationSet};

/// Whether training goes on after an epoch; returned by the callback of [`Trainer::fit_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Train the next epoch.
    Continue,
    /// Stop now.
    Stop,
}

/// Trains a network over a data set in epochs of shuffled mini-batches.
///
/// A trainer is a set of choices, each a method; [`fit`](Trainer::fit) runs them and returns the
/// run's [`History`]:
///
/// ```
/// use nn_runtime::{EarlyStopping, Progress, StepLR, Trainer};
/// # let (x_val, y_val) = (nn_runtime::Batch::<4>::zeros(2), nn_runtime::Labels::new(vec![0, 1], 2)?);
///
/// let trainer = Trainer::new(100)
///     .batch_size(32)
///     .shuffle(0) // reproducibly
///     .validate(&x_val, &y_val) // after each epoch
///     .early_stopping(EarlyStopping::new(10)) // on the validation loss
///     .lr_schedule(StepLR::new(1e-3, 30, 0.1)) // per epoch
///     .clip_grad_norm(1.0)
///     .checkpoint_every(5, "checkpoints") // and on stopping
///     .resume("checkpoints") // from the last checkpoint there, if any
///     .progress(Progress::Lines);
/// assert_eq!(trainer.epochs(), 100);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Trainer<V = NoValidation> {
    epochs: usize,
    batch_size: Option<usize>,
    shuffle_seed: Option<u64>,
    progress: Progress,
    skip_non_finite: bool,
    max_grad_norm: Option<f32>,
    schedule: Option<Schedule>,
    early_stopping: Option<EarlyStopping>,
    checkpoint_every: Option<(usize, PathBuf)>,
    resume_from: Option<PathBuf>,
    validation: V,
}

impl Trainer {
    /// A trainer for `epochs` full-batch epochs that shows its progress
    /// ([`Progress::Auto`]).
    pub fn new(epochs: usize) -> Self {
        Trainer {
            epochs,
            batch_size: None,
            shuffle_seed: None,
            progress: Progress::Auto,
            skip_non_finite: false,
            max_grad_norm: None,
            schedule: None,
            early_stopping: None,
            checkpoint_every: None,
            resume_from: None,
            validation: NoValidation,
        }
    }
}

impl<V> Trainer<V> {
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

    /// How the run shows its progress: a bar, a line per epoch, or nothing.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Shows nothing: [`Progress::Off`].
    pub fn quiet(self) -> Self {
        self.progress(Progress::Off)
    }

    /// Leaves out a mini-batch whose loss or gradients are not finite (a NaN in the data, say)
    /// and goes on, counting it in the epoch's [`EpochReport::skipped`]. By default training
    /// stops there with [`Error::Batch`].
    pub fn skip_non_finite(mut self) -> Self {
        self.skip_non_finite = true;
        self
    }

    /// Scales each step's gradients to a global L2 norm of at most `max_norm`, as
    /// [`clip_grad_norm`] (PyTorch's `clip_grad_norm_` between `backward()` and `step()`).
    ///
    /// # Panics
    /// If `max_norm` is negative or not finite.
    pub fn clip_grad_norm(mut self, max_norm: f32) -> Self {
        crate::optim::check_non_negative("Trainer", "max_norm", f64::from(max_norm));
        self.max_grad_norm = Some(max_norm);
        self
    }

    /// Sets the learning rate before each epoch `e` (counted from 0) to `schedule.lr_at(e)`,
    /// as PyTorch's `scheduler.step()` after each epoch.
    ///
    /// A trainer follows one schedule: the last one set.
    pub fn lr_schedule<S: LrScheduler + Send + Sync + 'static>(mut self, schedule: S) -> Self {
        self.schedule = Some(Schedule::closed_form(schedule, Every::Epoch));
        self
    }

    /// Sets the learning rate before each mini-batch step `t` of the run (counted from 0) to
    /// `schedule.lr_at(t)`, as PyTorch's `scheduler.step()` after each `optimizer.step()`, which
    /// schedules such as [`OneCycleLR`](crate::OneCycleLR) expect.
    ///
    /// A trainer follows one schedule: the last one set.
    pub fn lr_schedule_per_step<S: LrScheduler + Send + Sync + 'static>(
        mut self,
        schedule: S,
    ) -> Self {
        self.schedule = Some(Schedule::closed_form(schedule, Every::Step));
        self
    }

    /// Lowers the learning rate when the validation loss (the training loss, without
    /// [`validate`](Trainer::validate)) stops improving, calling
    /// [`ReduceLROnPlateau::step`] after each epoch, as PyTorch's `scheduler.step(val_loss)`.
    ///
    /// A trainer follows one schedule: the last one set.
    pub fn reduce_lr_on_plateau(mut self, plateau: ReduceLROnPlateau) -> Self {
        self.schedule = Some(Schedule::Plateau(plateau));
        self
    }

    /// Stops when the validation loss (the training loss, without [`validate`]) stops
    /// improving, as [`EarlyStopping`] says.
    ///
    /// [`validate`]: Trainer::validate
    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.early_stopping = Some(early_stopping);
        self
    }

    /// Writes a checkpoint into `dir` (`dir/checkpoint.safetensors`) after every `epochs`
    /// epochs, and after the last epoch or the one early stopping ends the run on, for
    /// [`resume`](Trainer::resume). It holds the weights,
    /// the optimizer's state (moments and step count, under names such as
    /// `fc1.weight.exp_avg`), the schedule's and early stopping's state, where each dropout
    /// layer's random masks are, the shuffle's seed, the epoch and the history. Each checkpoint
    /// replaces the last whole, or not at all.
    pub fn checkpoint_every(mut self, epochs: usize, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_every = Some((epochs.max(1), dir.into()));
        self
    }

    /// Starts from the checkpoint in `dir`, if there is one, as [`checkpoint_every`] wrote
    /// it: the model, the optimizer and the run continue after the checkpoint's epoch, so
    /// that a run stopped and resumed ends with the weights of a run never stopped, bit for
    /// bit. Without a checkpoint in `dir`, the run starts from the beginning.
    ///
    /// [`checkpoint_every`]: Trainer::checkpoint_every
    pub fn resume(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resume_from = Some(dir.into());
        self
    }

    /// Evaluates the model on `(x, target)` after each epoch; the reports and the history show
    /// the validation loss (and accuracy) beside the training ones.
    pub fn validate<'a, const IN: usize, T>(
        self,
        x: &'a Batch<IN>,
        target: &'a T,
    ) -> Trainer<Validation<'a, IN, T>> {
        Trainer {
            epochs: self.epochs,
            batch_size: self.batch_size,
            shuffle_seed: self.shuffle_seed,
            progress: self.progress,
            skip_non_finite: self.skip_non_finite,
            max_grad_norm: self.max_grad_norm,
            schedule: self.schedule,
            early_stopping: self.early_stopping,
            checkpoint_every: self.checkpoint_every,
            resume_from: self.resume_from,
            validation: Validation { x, target },
        }
    }

    /// The number of epochs.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Trains `model` on `(x, target)`; returns the run's history, one report per epoch.
    ///
    /// # Errors
    /// As [`Network::train_step`] for a target that does not fit. A mini-batch whose loss or
    /// gradients are not finite stops training with [`Error::Batch`], which names the epoch and
    /// the batch's rows; the model keeps the weights of the last step that succeeded (or, with
    /// [`skip_non_finite`](Trainer::skip_non_finite), the batch is left out). A validation loss
    /// that is not finite is [`Error::Validation`]. Checkpoints that cannot be written or read
    /// are [`Error::Io`] or [`Error::Checkpoint`].
    pub fn fit<M, L, O, const IN: usize, const OUT: usize>(
        &self,
        model: &mut M,
        x: &Batch<IN>,
        target: &L::Target,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<History>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT>,
        O: Optimizer,
        V: ValidationSet<IN, L::Target>,
    {
        self.fit_with(model, x, target, loss, optimizer, |_| Control::Continue)
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
    ) -> Result<History>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT>,
        O: Optimizer,
        V: ValidationSet<IN, L::Target>,
        F: FnMut(&EpochReport) -> Control,
    {
        loss.check_target(target, x.rows())?;
        self.validation.check(loss)?;
        let mut optimizer = Clipped {
            optimizer,
            max_norm: self.max_grad_norm,
        };
        let mut run = Run::new(self, x.rows());
        if let Some(dir) = &self.resume_from {
            run.resume(
                self,
                &dir.join(checkpoint::FILE_NAME),
                model,
                &mut optimizer,
            )?;
        }
        let mut reporter = Reporter::new(self.progress, self.epochs, run.batches, run.done);
        let mut scratch = Scratch {
            x: Batch::<IN>::zeros(run.size),
            target: target.clone(),
            output: Batch::<OUT>::zeros(run.size),
        };
        while run.done < self.epochs && !run.finished {
            let epoch = run.done + 1;
            let started = Instant::now();
            if let Some(rng) = run.rng.as_mut() {
                run.order.shuffle(rng);
            }
            if let Some(lr) = self.lr_at(Every::Epoch, epoch - 1) {
                optimizer.set_lr(lr);
            }
            let data = Data { x, target };
            let totals = self.train_epoch(
                &run,
                data,
                (model, &mut optimizer, loss),
                &mut scratch,
                &mut reporter,
            )?;
            let validation =
                self.validation
                    .evaluate(model, loss)
                    .map_err(|cause| Error::Validation {
                        epoch,
                        cause: Box::new(cause),
                    })?;
            let report = EpochReport {
                epoch,
                epochs: self.epochs,
                // With every batch skipped there is no loss to report: NaN says so.
                loss: (totals.loss / totals.rows as f64) as f32,
                accuracy: totals.correct.map(|c| c as f32 / totals.rows as f32),
                val_loss: validation.as_ref().map(|v| v.loss),
                val_accuracy: validation.and_then(|v| v.accuracy),
                lr: optimizer.lr(),
                seconds: started.elapsed().as_secs_f64(),
                skipped: totals.skipped,
            };
            run.end_epoch(report, model, &mut optimizer);
            reporter.epoch_done(&report);
            run.checkpoint_if_due(self, model, &optimizer)?;
            if after_epoch(&report) == Control::Stop {
                break;
            }
        }
        Ok(run.history)
    }

    /// The learning rate `self`'s schedule sets before epoch or step `t`, if it sets one then.
    fn lr_at(&self, when: Every, t: usize) -> Option<f64> {
        self.schedule.as_ref().and_then(|s| s.lr_at(when, t))
    }

    /// One epoch of training steps over `run`'s order of the rows; returns their sums.
    fn train_epoch<M, L, O, const IN: usize, const OUT: usize>(
        &self,
        run: &Run,
        data: Data<'_, IN, L::Target>,
        (model, optimizer, loss): (&mut M, &mut O, &L),
        scratch: &mut Scratch<IN, OUT, L::Target>,
        reporter: &mut Reporter,
    ) -> Result<Totals>
    where
        M: Network<IN, OUT>,
        L: Loss<OUT>,
        O: Optimizer,
    {
        let epoch = run.done + 1;
        let mut totals = Totals::default();
        for (batch, rows) in run.order.chunks(run.size).enumerate() {
            if let Some(lr) = self.lr_at(Every::Step, (epoch - 1) * run.batches + batch) {
                optimizer.set_lr(lr);
            }
            // The whole set in its own order needs no copy.
            let (xs, ts) = if rows.len() == data.x.rows() && run.rng.is_none() {
                (data.x, data.target)
            } else {
                data.x.gather_into(rows, &mut scratch.x);
                data.target.gather_into(rows, &mut scratch.target);
                (&scratch.x, &scratch.target)
            };
            let step_loss = match model.train_step(xs, ts, loss, optimizer) {
                Ok(value) => value,
                Err(error) if error.is_non_finite() && self.skip_non_finite => {
                    totals.skipped += 1;
                    continue;
                }
                Err(cause) => {
                    return Err(Error::Batch {
                        epoch,
                        batch: batch + 1,
                        rows: rows.to_vec(),
                        cause: Box::new(cause),
                    })
                }
            };
            totals.rows += rows.len();
            totals.loss += f64::from(step_loss) * rows.len() as f64;
            if ts.has_classes() {
                model.forward_into(xs, &mut scratch.output);
                let correct = ts.correct(scratch.output.as_slice(), OUT);
                totals.correct = Some(totals.correct.unwrap_or(0) + correct);
            }
            let at = BatchPosition {
                epoch,
                epochs: self.epochs,
                batch: batch + 1,
                batches: run.batches,
            };
            reporter.batch_done(at, rows.len(), totals.loss / totals.rows as f64);
        }
        Ok(totals)
    }
}

/// The training rows and their targets.
#[derive(Clone, Copy)]
struct Data<'a, const IN: usize, T> {
    x: &'a Batch<IN>,
    target: &'a T,
}

/// Buffers reused by every mini-batch of a run: its rows, its targets, the model's output.
struct Scratch<const IN: usize, const OUT: usize, T> {
    x: Batch<IN>,
    target: T,
    output: Batch<OUT>,
}

/// The sums over one epoch's trained mini-batches.
#[derive(Debug, Default)]
struct Totals {
    rows: usize,
    /// The loss summed over rows, in `f64` so that a long epoch loses no precision.
    loss: f64,
    /// Rows whose prediction was right, for label targets.
    correct: Option<usize>,
    skipped: usize,
}

/// Where a run is, between epochs.
struct Run {
    /// Rows per mini-batch, and mini-batches per epoch.
    size: usize,
    batches: usize,
    order: Vec<usize>,
    rng: Option<StdRng>,
    /// Epochs done, and whether early stopping has ended the run.
    done: usize,
    finished: bool,
    watch: Option<Watch>,
    /// The plateau schedule's state, when the trainer follows one.
    plateau: Option<ReduceLROnPlateau>,
    history: History,
}

impl Run {
    fn new<V>(trainer: &Trainer<V>, rows: usize) -> Self {
        let size = trainer.batch_size.unwrap_or(rows).min(rows).max(1);
        Run {
            size,
            batches: rows.div_ceil(size),
            order: (0..rows).collect(),
            rng: trainer.shuffle_seed.map(StdRng::seed_from_u64),
            done: 0,
            finished: false,
            watch: trainer.early_stopping.map(Watch::new),
            plateau: match trainer.schedule {
                Some(Schedule::Plateau(plateau)) => Some(plateau),
                _ => None,
            },
            history: History::default(),
        }
    }

    /// Continues from the checkpoint at `path`, if there is one.
    fn resume<V, M, O, const IN: usize, const OUT: usize>(
        &mut self,
        trainer: &Trainer<V>,
        path: &std::path::Path,
        model: &mut M,
        optimizer: &mut O,
    ) -> Result<()>
    where
        M: Network<IN, OUT>,
        O: Optimizer,
    {
        let plateau = self.plateau.is_some();
        let fits = |saved: &RunState| {
            if saved.shuffle_seed != trainer.shuffle_seed {
                return Err(format!(
                    "its run was shuffled with seed {:?}, this one with {:?}",
                    saved.shuffle_seed, trainer.shuffle_seed
                ));
            }
            if saved.plateau.is_some() != plateau {
                return Err("its run and this one differ in following `ReduceLROnPlateau`".into());
            }
            Ok(())
        };
        let watch = self.watch.as_mut();
        let Some(state) = checkpoint::read(path, model, optimizer, trainer.epochs, watch, fits)?
        else {
            return Ok(());
        };
        // The shuffled order after k epochs is the seed's k first shuffles, replayed.
        if let Some(rng) = self.rng.as_mut() {
            for _ in 0..state.epoch {
                self.order.shuffle(rng);
            }
        }
        if let (Some(plateau), Some(saved)) = (self.plateau.as_mut(), state.plateau) {
            plateau.restore(saved);
        }
        self.done = state.epoch;
        self.finished = state.finished;
        self.history = state.history;
        Ok(())
    }

    /// Records `report`, lets the plateau schedule see the epoch's loss, and early stopping
    /// decide whether the run ends here.
    fn end_epoch<M, O, const IN: usize, const OUT: usize>(
        &mut self,
        report: EpochReport,
        model: &mut M,
        optimizer: &mut O,
    ) where
        M: Network<IN, OUT>,
        O: Optimizer,
    {
        self.done = report.epoch;
        self.history.epochs.push(report);
        let monitored = report.val_loss.unwrap_or(report.loss);
        if let Some(plateau) = self.plateau.as_mut() {
            plateau.step(f64::from(monitored), optimizer);
        }
        let Some(watch) = self.watch.as_mut() else {
            return;
        };
        if watch.stops_after(report.epoch, monitored, model) {
            self.finished = true;
            self.history.restored_epoch = watch.restore(model);
        }
    }

    /// Writes a checkpoint if `trainer` wants one after this epoch: every so many epochs, and
    /// at the end of the run.
    fn checkpoint_if_due<V, M, O, const IN: usize, const OUT: usize>(
        &self,
        trainer: &Trainer<V>,
        model: &mut M,
        optimizer: &O,
    ) -> Result<()>
    where
        M: Network<IN, OUT>,
        O: Optimizer,
    {
        let Some((every, dir)) = &trainer.checkpoint_every else {
            return Ok(());
        };
        let last = self.done == trainer.epochs || self.finished;
        if !(self.done.is_multiple_of(*every) || last) {
            return Ok(());
        }
        let state = self.state(trainer, optimizer.lr());
        let path = dir.join(checkpoint::FILE_NAME);
        checkpoint::write(&path, model, optimizer, &state, self.watch.as_ref())
    }

    /// What a checkpoint keeps of the run, besides the model, the optimizer and early stopping.
    fn state<V>(&self, trainer: &Trainer<V>, lr: f64) -> RunState {
        RunState {
            epoch: self.done,
            finished: self.finished,
            shuffle_seed: trainer.shuffle_seed,
            lr,
            plateau: self.plateau.map(|p| p.state()),
            history: self.history.clone(),
        }
    }
}

/// Whether a schedule sets the learning rate per epoch or per mini-batch step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    Epoch,
    Step,
}

/// How a trainer changes the learning rate.
#[derive(Clone)]
enum Schedule {
    /// A rate for each epoch or each step, from the schedule's closed form.
    ClosedForm {
        lr_at: Arc<dyn Fn(usize) -> f64 + Send + Sync>,
        every: Every,
    },
    /// Lower rates as the monitored loss stops improving, after each epoch.
    Plateau(ReduceLROnPlateau),
}

impl Schedule {
    fn closed_form<S: LrScheduler + Send + Sync + 'static>(schedule: S, every: Every) -> Self {
        Schedule::ClosedForm {
            lr_at: Arc::new(move |t| schedule.lr_at(t)),
            every,
        }
    }

    /// The rate to set before epoch or step `t` (counted from 0), if this schedule sets one then.
    fn lr_at(&self, when: Every, t: usize) -> Option<f64> {
        match self {
            Schedule::ClosedForm { lr_at, every } if *every == when => Some(lr_at(t)),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::ClosedForm { every, .. } => write!(f, "ClosedForm {{ every: {every:?} }}"),
            Schedule::Plateau(plateau) => write!(f, "Plateau({plateau:?})"),
        }
    }
}

/// The user's optimizer, clipping the gradients first when asked to.
struct Clipped<'o, O: ?Sized> {
    optimizer: &'o mut O,
    max_norm: Option<f32>,
}

impl<O: Optimizer + ?Sized> Optimizer for Clipped<'_, O> {
    fn step<P: Parameters + ?Sized>(&mut self, params: &mut P) {
        if let Some(max_norm) = self.max_norm {
            clip_grad_norm(params, max_norm);
        }
        self.optimizer.step(params);
    }

    fn begin_step(&mut self) {
        self.optimizer.begin_step();
    }

    fn update(&mut self, index: usize, value: &mut [f32], grad: &[f32]) {
        self.optimizer.update(index, value, grad);
    }

    fn lr(&self) -> f64 {
        self.optimizer.lr()
    }

    fn set_lr(&mut self, lr: f64) {
        self.optimizer.set_lr(lr);
    }

    fn state(&self) -> Option<crate::optim::OptimizerState> {
        self.optimizer.state()
    }

    fn restore_state(&mut self, state: &crate::optim::OptimizerState) -> Result<()> {
        self.optimizer.restore_state(state)
    }
}
