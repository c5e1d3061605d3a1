//! Checkpoints: a run stopped after epoch k and resumed ends with the weights of a run never
//! stopped, bit for bit, dropout included; a checkpoint that does not fit the run is an error that changes nothing.

use std::path::{Path, PathBuf};

mod common;

use common::quadrants;
use nn::prelude::*;

network! {
    // Dropout's masks are random: a resumed run must draw those the whole run drew.
    struct Xor { Linear(2, 16) -> Tanh -> Dropout(0.25) -> Linear(16, 2) }
}

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-checkpoint-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every weight of `model`, as bits.
fn bits<M: NamedTensors>(model: &M) -> Vec<u32> {
    let mut bits = Vec::new();
    model.visit_tensors(&mut |_, _, values| bits.extend(values.iter().map(|v| v.to_bits())));
    bits
}

/// The losses of a history, as bits (the seconds differ from run to run).
fn losses(history: &History) -> Vec<(u32, Option<u32>, u64)> {
    history
        .iter()
        .map(|r| {
            (
                r.loss.to_bits(),
                r.val_loss.map(f32::to_bits),
                r.lr.to_bits(),
            )
        })
        .collect()
}

/// Trains as `trainer` (given its checkpoint directory) says, in one go or stopping after
/// `stop_after` epochs and resuming with a new process's worth of state: a new model, a new
/// optimizer, a new trainer. Returns the weights at the end and the history.
fn train<O: Optimizer, V>(
    test: &str,
    trainer: impl Fn(&Path) -> Trainer<V>,
    optimizer: impl Fn() -> O,
    stop_after: Option<usize>,
) -> (Vec<u32>, History)
where
    V: nn::ValidationSet<2, Labels>,
{
    let (x, y) = quadrants(100, 1);
    let loss = CrossEntropyLoss::new();
    let dir = scratch(&format!("{test}-{stop_after:?}"));
    let mut model = Xor::seeded(0);
    let first = trainer(&dir)
        .fit_with(&mut model, &x, &y, &loss, &mut optimizer(), |report| {
            if Some(report.epoch) == stop_after {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
    let Some(k) = stop_after else {
        std::fs::remove_dir_all(dir).unwrap();
        return (bits(&model), first);
    };
    assert_eq!(first.len(), k, "the first part stopped after epoch {k}");
    // Other initial weights: what the resumed run ends with comes from the checkpoint.
    let mut resumed = Xor::seeded(99);
    let history = trainer(&dir)
        .fit(&mut resumed, &x, &y, &loss, &mut optimizer())
        .unwrap();
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        files, 1,
        "one checkpoint file, no temporary files beside it"
    );
    std::fs::remove_dir_all(dir).unwrap();
    (bits(&resumed), history)
}

#[test]
fn adam_with_a_one_cycle_schedule_and_clipping_resumes_bit_for_bit() {
    let trainer = |dir: &Path| {
        Trainer::new(6)
            .batch_size(16)
            .shuffle(5)
            .quiet()
            .clip_grad_norm(0.5)
            .lr_schedule_per_step(OneCycleLR::new(0.05, 6 * 7))
            .checkpoint_every(1, dir)
            .resume(dir)
    };
    let adam = || Adam::new(0.01);
    let (whole, whole_history) = train("adam", trainer, adam, None);
    for k in [1, 3, 5] {
        let (resumed, history) = train("adam", trainer, adam, Some(k));
        assert_eq!(whole, resumed, "stopped after epoch {k}");
        assert_eq!(losses(&whole_history), losses(&history));
    }
    // The schedule moved the rate: it is not the optimizer's initial one.
    assert!(whole_history.iter().all(|r| r.lr != 0.01));
}

#[test]
fn sgd_with_validation_plateau_and_early_stopping_resumes_bit_for_bit() {
    let (x_val, y_val) = quadrants(40, 2);
    let trainer = |dir: &Path| {
        Trainer::new(8)
            .batch_size(32)
            .shuffle(2)
            .quiet()
            .validate(&x_val, &y_val)
            .reduce_lr_on_plateau(ReduceLROnPlateau::new().patience(0).factor(0.5))
            .early_stopping(EarlyStopping::new(3))
            .checkpoint_every(2, dir)
            .resume(dir)
    };
    let sgd = || SGD::new(0.5).momentum(0.9);
    let (whole, whole_history) = train("sgd", trainer, sgd, None);
    let (resumed, history) = train("sgd", trainer, sgd, Some(4));
    assert_eq!(whole, resumed);
    assert_eq!(losses(&whole_history), losses(&history));
    assert_eq!(whole_history.restored_epoch(), history.restored_epoch());
    assert!(history.iter().all(|r| r.val_loss.is_some()));
    assert!(
        history.iter().any(|r| r.lr < 0.5),
        "the plateau lowered the rate"
    );
}

#[test]
fn early_stopping_resumed_while_waiting_restores_the_best_weights_it_saved() {
    let (x_val, y_val) = quadrants(40, 3);
    // A learning rate this large makes the validation loss climb after a few epochs.
    let trainer = |dir: &Path| {
        Trainer::new(200)
            .batch_size(16)
            .shuffle(3)
            .quiet()
            .validate(&x_val, &y_val)
            .early_stopping(EarlyStopping::new(4))
            .checkpoint_every(1, dir)
            .resume(dir)
    };
    let sgd = || SGD::new(3.0);
    let (whole, whole_history) = train("waiting", trainer, sgd, None);
    let best = whole_history
        .restored_epoch()
        .expect("the run stopped early");
    // Stopped two epochs after the best one: the best weights come from the checkpoint.
    let (resumed, history) = train("waiting", trainer, sgd, Some(best + 2));
    assert_eq!(history.restored_epoch(), Some(best));
    assert_eq!(whole, resumed);
    assert_eq!(losses(&whole_history), losses(&history));
}

#[test]
fn a_run_that_kept_no_best_weights_cannot_resume_restoring_them() {
    let dir = scratch("no-best");
    let (x, y) = quadrants(30, 6);
    let loss = CrossEntropyLoss::new();
    let trainer = |stopping: EarlyStopping| {
        Trainer::new(10)
            .quiet()
            .early_stopping(stopping)
            .checkpoint_every(1, &dir)
            .resume(&dir)
    };
    let mut model = Xor::seeded(0);
    trainer(EarlyStopping::new(5).keep_last_weights())
        .fit_with(&mut model, &x, &y, &loss, &mut SGD::new(0.1), |report| {
            if report.epoch == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
    let error = fails_and_changes_nothing(|m| {
        trainer(EarlyStopping::new(5)).fit(m, &x, &y, &loss, &mut SGD::new(0.1))
    });
    assert!(
        error.to_string().ends_with(
            "its run kept no best weights to restore; resume it with \
             `EarlyStopping::keep_last_weights`"
        ),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_checkpoint_names_the_optimizer_state_after_its_parameter() {
    let dir = scratch("names");
    let (x, y) = quadrants(20, 3);
    let mut model = Xor::seeded(0);
    Trainer::new(1)
        .quiet()
        .checkpoint_every(1, &dir)
        .fit(
            &mut model,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut Adam::new(0.01),
        )
        .unwrap();
    let tensors = nn::io::read_tensors(&dir.join("checkpoint.safetensors")).unwrap();
    let names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.bias.exp_avg",
            "0.bias.exp_avg_sq",
            "0.weight",
            "0.weight.exp_avg",
            "0.weight.exp_avg_sq",
            "3.bias",
            "3.bias.exp_avg",
            "3.bias.exp_avg_sq",
            "3.weight",
            "3.weight.exp_avg",
            "3.weight.exp_avg_sq",
        ]
    );
    // The model's own tensors load as a plain weights file would.
    assert_eq!(tensors["0.weight"].shape, [16, 2]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_checkpoint_that_does_not_fit_is_an_error_and_changes_nothing() {
    let dir = scratch("misfit");
    let (x, y) = quadrants(20, 4);
    let loss = CrossEntropyLoss::new();
    let mut model = Xor::seeded(0);
    Trainer::new(2)
        .quiet()
        .shuffle(1)
        .checkpoint_every(1, &dir)
        .fit(&mut model, &x, &y, &loss, &mut SGD::new(0.1).momentum(0.9))
        .unwrap();

    let resume = || Trainer::new(4).quiet().shuffle(1).resume(&dir);
    let momentum = || SGD::new(0.1).momentum(0.9);

    let error = fails_and_changes_nothing(|m| resume().fit(m, &x, &y, &loss, &mut Adam::new(0.1)));
    assert_eq!(
        error.to_string(),
        "the optimizer state does not fit: parameter 0 has an unexpected buffer `momentum_buffer`"
    );

    let other_seed = Trainer::new(4).quiet().shuffle(2).resume(&dir);
    let error = fails_and_changes_nothing(|m| other_seed.fit(m, &x, &y, &loss, &mut momentum()));
    assert!(
        error
            .to_string()
            .ends_with("its run was shuffled with seed Some(1), this one with Some(2)"),
        "{error}"
    );

    let path = dir.join("checkpoint.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = fails_and_changes_nothing(|m| resume().fit(m, &x, &y, &loss, &mut momentum()));
    assert!(matches!(error, Error::Format { .. }), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The error of `run` on a fresh model, which it must leave unchanged.
fn fails_and_changes_nothing(run: impl FnOnce(&mut Xor) -> Result<History, Error>) -> Error {
    let mut model = Xor::seeded(7);
    let error = run(&mut model).unwrap_err();
    assert_eq!(
        bits(&model),
        bits(&Xor::seeded(7)),
        "the model changed: {error}"
    );
    error
}

#[test]
fn a_run_that_stopped_early_resumes_to_its_end() {
    let dir = scratch("finished");
    let (x, y) = quadrants(30, 5);
    let loss = CrossEntropyLoss::new();
    // A learning rate of 0 never improves the validation loss: the run stops after 1 + 2
    // epochs.
    let trainer = || {
        Trainer::new(20)
            .quiet()
            .validate(&x, &y)
            .early_stopping(EarlyStopping::new(2))
            .checkpoint_every(10, &dir)
            .resume(&dir)
    };
    let mut model = Xor::seeded(0);
    let history = trainer()
        .fit(&mut model, &x, &y, &loss, &mut SGD::new(0.0))
        .unwrap();
    assert_eq!((history.len(), history.restored_epoch()), (3, Some(1)));
    let mut again = Xor::seeded(1);
    let resumed = trainer()
        .fit(&mut again, &x, &y, &loss, &mut SGD::new(0.0))
        .unwrap();
    assert_eq!(losses(&resumed), losses(&history));
    assert_eq!(bits(&again), bits(&model));
    std::fs::remove_dir_all(dir).unwrap();
}
