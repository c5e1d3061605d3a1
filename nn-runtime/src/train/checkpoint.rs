//! Checkpoints: all a run needs to go on where it stopped, in one safetensors file that is
//! replaced whole or not at all.
//!
//! The file holds the model's tensors under their own names (`fc1.weight`), the optimizer's
//! buffers after their parameter's (`fc1.weight.exp_avg`, flat, in the layout the optimizer
//! updates), early stopping's best weights under `best_weights/`, and the rest in the header's
//! metadata: the epoch, the learning rate, the optimizer's step count, the schedules' state,
//! where each dropout layer's random masks are, the shuffle's seed and the history so far.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use safetensors::SafeTensors;

use super::early_stopping::Watch;
use super::history::History;
use crate::error::{Error, Result};
use crate::io::{self, Entry};
use crate::network::Network;
use crate::optim::{Optimizer, OptimizerState, PlateauState};

/// The checkpoint's file name in its directory.
pub(super) const FILE_NAME: &str = "checkpoint.safetensors";

const FORMAT: &str = "nn checkpoint 1";
const BEST_WEIGHTS: &str = "best_weights/";

/// A run's state after an epoch, besides the model's, the optimizer's and early stopping's.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunState {
    /// The epochs done.
    pub(super) epoch: usize,
    /// Whether early stopping ended the run, so that resuming has nothing left to do.
    pub(super) finished: bool,
    /// The seed the rows were shuffled with; the order after `epoch` epochs is replayed from it.
    pub(super) shuffle_seed: Option<u64>,
    /// The optimizer's learning rate, which [`ReduceLROnPlateau`](crate::ReduceLROnPlateau)
    /// may have lowered.
    pub(super) lr: f64,
    /// The plateau schedule's state, when the run follows one.
    pub(super) plateau: Option<PlateauState>,
    pub(super) history: History,
}

/// Writes the checkpoint of a run at `path`.
///
/// # Errors
/// [`Error::Checkpoint`] for an optimizer that cannot save its state; [`Error::Io`] when the
/// file cannot be written, in which case the previous checkpoint is left whole.
pub(super) fn write<M, O, const IN: usize, const OUT: usize>(
    path: &Path,
    model: &mut M,
    optimizer: &O,
    run: &RunState,
    watch: Option<&Watch>,
) -> Result<()>
where
    M: Network<IN, OUT>,
    O: Optimizer + ?Sized,
{
    let failed = |message: String| Error::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    let state = optimizer.state().ok_or_else(|| {
        failed(format!(
            "the optimizer `{}` cannot save its state; implement `Optimizer::state`",
            std::any::type_name::<O>()
        ))
    })?;
    let mut entries = io::tensor_entries(model, "");
    for ((name, _), buffers) in parameter_names(model).iter().zip(&state.buffers) {
        for (buffer, values) in buffers {
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            entries.push((format!("{name}.{buffer}"), vec![values.len()], bytes));
        }
    }
    let mut metadata = HashMap::from([
        ("format".to_owned(), FORMAT.to_owned()),
        ("epoch".to_owned(), run.epoch.to_string()),
        ("finished".to_owned(), run.finished.to_string()),
        ("lr".to_owned(), run.lr.to_string()),
        ("optimizer.step".to_owned(), state.step.to_string()),
        ("history".to_owned(), run.history.to_csv()),
    ]);
    if let Some(seed) = run.shuffle_seed {
        metadata.insert("shuffle_seed".to_owned(), seed.to_string());
    }
    if let Some(epoch) = run.history.restored_epoch {
        metadata.insert("restored_epoch".to_owned(), epoch.to_string());
    }
    model.visit_dropouts(&mut |name, dropout| {
        let (seed, words) = dropout.stream_position();
        metadata.insert(format!("dropout.{name}"), format!("{seed} {words}"));
    });
    if let Some(plateau) = run.plateau {
        metadata.insert("plateau.best".to_owned(), plateau.best.to_string());
        let bad = plateau.num_bad_epochs.to_string();
        metadata.insert("plateau.num_bad_epochs".to_owned(), bad);
        let cooldown = plateau.cooldown_counter.to_string();
        metadata.insert("plateau.cooldown_counter".to_owned(), cooldown);
    }
    if let Some(watch) = watch {
        metadata.insert("early_stopping.best".to_owned(), watch.best.to_string());
        let epoch = watch.best_epoch.to_string();
        metadata.insert("early_stopping.best_epoch".to_owned(), epoch);
        metadata.insert("early_stopping.wait".to_owned(), watch.wait.to_string());
        entries.extend(best_weight_entries(model, &watch.best_weights));
    }
    let bytes = io::serialize(&entries, Some(metadata))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io::io_error(dir, e))?;
    }
    io::write_atomically(path, &bytes).map_err(|e| io::io_error(path, e))
}

/// Reads the checkpoint at `path` into `model`, `optimizer` and `watch`, for a run of `epochs`
/// epochs that `fits` (or says why not); `None` (and nothing changed) when there is no file.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`] for a file that cannot be read; the errors of
/// [`load_safetensors`](crate::io::load_safetensors) for a model that does not fit;
/// [`Error::Checkpoint`] for a checkpoint of another optimizer or run, or damaged. Everything
/// is checked before anything changes.
pub(super) fn read<M, O, const IN: usize, const OUT: usize>(
    path: &Path,
    model: &mut M,
    optimizer: &mut O,
    epochs: usize,
    watch: Option<&mut Watch>,
    fits: impl FnOnce(&RunState) -> std::result::Result<(), String>,
) -> Result<Option<RunState>>
where
    M: Network<IN, OUT>,
    O: Optimizer + ?Sized,
{
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::io_error(path, e)),
    };
    let damaged = |message: String| Error::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(io::format_error)?;
    let file = SafeTensors::deserialize(&bytes).map_err(io::format_error)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let field = |key: &str| -> Result<&str> {
        metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| damaged(format!("the file has no `{key}`; it is not a checkpoint")))
    };
    if field("format")? != FORMAT {
        return Err(damaged(format!("unknown format `{}`", field("format")?)));
    }
    let parse = |key: &str| -> Result<f64> { parsed(key, field(key)?).map_err(damaged) };
    let count = |key: &str| -> Result<usize> { parsed(key, field(key)?).map_err(damaged) };

    io::check_tensors(model, &file, "")?;
    let state = OptimizerState {
        step: parsed("optimizer.step", field("optimizer.step")?).map_err(damaged)?,
        buffers: optimizer_buffers(model, &file).map_err(damaged)?,
    };
    let history = History {
        epochs: History::parse_csv(field("history")?, epochs)
            .ok_or_else(|| damaged("its history cannot be read".to_owned()))?,
        restored_epoch: match metadata.get("restored_epoch") {
            Some(epoch) => Some(parsed("restored_epoch", epoch).map_err(damaged)?),
            None => None,
        },
    };
    let run = RunState {
        epoch: count("epoch")?,
        finished: parsed("finished", field("finished")?).map_err(damaged)?,
        shuffle_seed: match metadata.get("shuffle_seed") {
            Some(seed) => Some(parsed("shuffle_seed", seed).map_err(damaged)?),
            None => None,
        },
        lr: parse("lr")?,
        plateau: if metadata.contains_key("plateau.best") {
            Some(PlateauState {
                best: parse("plateau.best")?,
                num_bad_epochs: count("plateau.num_bad_epochs")?,
                cooldown_counter: count("plateau.cooldown_counter")?,
            })
        } else {
            None
        },
        history,
    };
    fits(&run).map_err(damaged)?;
    if run.history.len() != run.epoch {
        return Err(damaged(format!(
            "its history has {} epochs, not {}",
            run.history.len(),
            run.epoch
        )));
    }
    let restored_watch = match watch.as_deref() {
        Some(watch) if metadata.contains_key("early_stopping.best") => {
            let mut restored = Watch::new(watch.settings);
            restored.best = parse("early_stopping.best")? as f32;
            restored.best_epoch = count("early_stopping.best_epoch")?;
            restored.wait = count("early_stopping.wait")?;
            restored.best_weights = best_weights(model, &file, restored.best_epoch)?;
            if watch.settings.restores_best_weights()
                && restored.best_epoch > 0
                && restored.best_weights.is_empty()
            {
                return Err(damaged(
                    "its run kept no best weights to restore; resume it with \
                     `EarlyStopping::keep_last_weights`"
                        .to_owned(),
                ));
            }
            Some(restored)
        }
        _ => None,
    };

    let mut streams = Vec::new();
    let mut missing = None;
    model.visit_dropouts(&mut |name, _| {
        let key = format!("dropout.{name}");
        let position = metadata.get(&key).and_then(|text| {
            let (seed, words) = text.split_once(' ')?;
            Some((seed.parse::<u64>().ok()?, words.parse::<u128>().ok()?))
        });
        match position {
            Some(position) => streams.push(position),
            None => missing = missing.take().or(Some(key)),
        }
    });
    if let Some(key) = missing {
        return Err(damaged(format!("`{key}` is missing or cannot be read")));
    }

    optimizer.restore_state(&state)?;
    if !(run.lr.is_finite() && run.lr >= 0.0) {
        return Err(damaged(format!("invalid learning rate {}", run.lr)));
    }
    optimizer.set_lr(run.lr);
    io::copy_tensors(model, &file, "");
    let mut streams = streams.into_iter();
    model.visit_dropouts(&mut |_, dropout| {
        if let Some((seed, words)) = streams.next() {
            dropout.set_stream_position(seed, words);
        }
    });
    if let (Some(watch), Some(restored)) = (watch, restored_watch) {
        *watch = restored;
    }
    Ok(Some(run))
}

/// `text`, the value of `key`, as a `T`, or what is wrong with it.
fn parsed<T: FromStr>(key: &str, text: &str) -> std::result::Result<T, String> {
    text.parse()
        .map_err(|_| format!("`{key}` is `{text}`, which cannot be read"))
}

/// The name of each parameter of `model`, in the optimizer's order.
fn parameter_names<P: crate::optim::Parameters + ?Sized>(model: &mut P) -> Vec<(String, usize)> {
    let mut names = Vec::new();
    model.visit_parameters(&mut |name: &str, value: &mut [f32], _: &mut [f32]| {
        names.push((name.to_owned(), value.len()));
    });
    names
}

/// Per parameter, its optimizer buffers by name, as [`OptimizerState::buffers`].
type Buffers = Vec<Vec<(String, Vec<f32>)>>;

/// The optimizer's buffers in `file`, per parameter of `model`: none at all, or some for every
/// parameter, each as long as its parameter.
fn optimizer_buffers<P: crate::optim::Parameters + ?Sized>(
    model: &mut P,
    file: &SafeTensors<'_>,
) -> std::result::Result<Buffers, String> {
    let names = parameter_names(model);
    let mut buffers = Vec::with_capacity(names.len());
    for (name, len) in &names {
        let prefix = format!("{name}.");
        let mut own = Vec::new();
        for (tensor, view) in file.tensors() {
            let Some(buffer) = tensor.strip_prefix(&prefix) else {
                continue;
            };
            let values = io::f32_values(&view).map_err(|_| format!("`{tensor}` is not F32"))?;
            if values.len() != *len {
                return Err(format!(
                    "`{tensor}` has {} values, but `{name}` has {len}",
                    values.len()
                ));
            }
            own.push((buffer.to_owned(), values));
        }
        own.sort_by(|a, b| a.0.cmp(&b.0));
        buffers.push(own);
    }
    if buffers.iter().all(Vec::is_empty) {
        return Ok(Vec::new());
    }
    if let Some(((name, _), _)) = names.iter().zip(&buffers).find(|(_, b)| b.is_empty()) {
        return Err(format!("the optimizer's state for `{name}` is missing"));
    }
    Ok(buffers)
}

/// Early stopping's best weights, as `best_weights/…` tensors shaped as `model`'s.
fn best_weight_entries<M: crate::io::NamedTensors + ?Sized>(model: &M, flat: &[f32]) -> Vec<Entry> {
    if flat.is_empty() {
        return Vec::new();
    }
    let mut entries = io::tensor_entries(model, BEST_WEIGHTS);
    let mut rest = flat;
    for (_, _, bytes) in &mut entries {
        let (these, others) = rest.split_at(bytes.len() / 4);
        *bytes = these.iter().flat_map(|v| v.to_le_bytes()).collect();
        rest = others;
    }
    entries
}

/// The flat best weights saved in `file`, or none before any epoch was best.
fn best_weights<M: crate::io::NamedTensors + ?Sized>(
    model: &M,
    file: &SafeTensors<'_>,
    best_epoch: usize,
) -> Result<Vec<f32>> {
    let saved = file.names().iter().any(|n| n.starts_with(BEST_WEIGHTS));
    if best_epoch == 0 || !saved {
        return Ok(Vec::new());
    }
    io::check_tensors(model, file, BEST_WEIGHTS)?;
    let mut flat = Vec::new();
    model.visit_tensors(&mut |name, _, values| {
        // `check_tensors` found each, with the model's shape and the dtype it is stored in.
        if let Ok(view) = file.tensor(&format!("{BEST_WEIGHTS}{name}")) {
            let start = flat.len();
            flat.resize(start + values.len(), 0.0);
            io::read_values(&view, &mut flat[start..]);
        }
    });
    Ok(flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_cannot_be_read_are_named() {
        assert_eq!(parsed::<usize>("epoch", "3"), Ok(3));
        assert_eq!(
            parsed::<usize>("epoch", "three"),
            Err("`epoch` is `three`, which cannot be read".to_owned())
        );
        assert_eq!(parsed::<f64>("lr", "inf"), Ok(f64::INFINITY));
    }
}
