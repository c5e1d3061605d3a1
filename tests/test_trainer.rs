//! The training loop: epochs of shuffled mini-batches, reports, early stopping and evaluation.

mod common;

use common::quadrants;
use nn::prelude::*;

network! {
    #[derive(Clone, Debug, PartialEq)]
    struct Xor { Linear(2, 16) -> Tanh -> Linear(16, 2) }
}

#[test]
fn mini_batch_training_learns_and_reports_each_epoch() {
    let (x, y) = quadrants(256, 11);
    let mut model = Xor::seeded(0);
    let reports = Trainer::new(60)
        .batch_size(32)
        .shuffle(1)
        .quiet()
        .fit(
            &mut model,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut Adam::new(0.02),
        )
        .unwrap();
    assert_eq!(reports.len(), 60);
    assert_eq!((reports[0].epoch, reports[0].epochs), (1, 60));
    assert!(
        reports[59].loss < reports[0].loss / 2.0,
        "{} → {}",
        reports[0].loss,
        reports[59].loss
    );
    let evaluation = evaluate(&model, &x, &y, &CrossEntropyLoss::new()).unwrap();
    assert!(
        evaluation.accuracy.unwrap() > 0.9,
        "accuracy {:?}",
        evaluation.accuracy
    );
    assert_eq!(
        reports[0].to_string(),
        format!(
            "Epoch [1/60], Loss: {:.4}, Accuracy: {:.2}%",
            reports[0].loss,
            reports[0].accuracy.unwrap() * 100.0
        )
    );
}

#[test]
fn shuffling_is_reproducible_and_callbacks_stop_early() {
    let (x, y) = quadrants(100, 11);
    let run = || {
        let mut model = Xor::seeded(3);
        Trainer::new(5)
            .batch_size(30)
            .shuffle(7)
            .quiet()
            .fit(
                &mut model,
                &x,
                &y,
                &CrossEntropyLoss::new(),
                &mut SGD::new(0.1),
            )
            .unwrap()
    };
    let losses = |history: History| history.iter().map(|r| r.loss).collect::<Vec<_>>();
    assert_eq!(losses(run()), losses(run()));

    let mut seen = Vec::new();
    let mut model = Xor::seeded(3);
    Trainer::new(50)
        .quiet()
        .fit_with(
            &mut model,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut SGD::new(0.1),
            |report| {
                seen.push(report.epoch);
                if report.epoch == 3 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap();
    assert_eq!(seen, [1, 2, 3]);
}

#[test]
fn float_targets_report_no_accuracy_and_bad_targets_are_errors() {
    let (x, _) = quadrants(8, 11);
    let mut model = Xor::seeded(0);
    let reports = Trainer::new(2)
        .quiet()
        .fit(
            &mut model,
            &x,
            &Batch::<2>::zeros(8),
            &MSELoss::new(),
            &mut SGD::new(0.1),
        )
        .unwrap();
    assert!(reports.iter().all(|r| r.accuracy.is_none()));
    let wrong = Trainer::new(1).quiet().fit(
        &mut model,
        &x,
        &Batch::<2>::zeros(7),
        &MSELoss::new(),
        &mut SGD::new(0.1),
    );
    assert_eq!(
        wrong,
        Err(Error::RowMismatch {
            input: 8,
            target: 7
        })
    );
}

#[test]
fn validation_is_reported_beside_training_and_early_stopping_restores_the_best_epoch() {
    let (x, y) = quadrants(128, 11);
    let (x_val, y_val) = (
        x.select(&(0..40).collect::<Vec<_>>()),
        y.select(&(0..40).collect::<Vec<_>>()),
    );
    let mut model = Xor::seeded(0);
    // A learning rate this large makes the validation loss climb after a few epochs.
    let history = Trainer::new(200)
        .batch_size(16)
        .shuffle(3)
        .quiet()
        .validate(&x_val, &y_val)
        .early_stopping(EarlyStopping::new(4))
        .fit(
            &mut model,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut SGD::new(3.0),
        )
        .unwrap();
    let best = history.restored_epoch().expect("the run stopped early");
    assert!(
        history.len() < 200 && history.len() == best + 4,
        "{history}"
    );
    let val_losses: Vec<f32> = history.iter().map(|r| r.val_loss.unwrap()).collect();
    let lowest = val_losses.iter().copied().fold(f32::INFINITY, f32::min);
    assert_eq!(val_losses[best - 1], lowest);
    // The model holds the best epoch's weights: its validation loss is the best one.
    let now = evaluate(&model, &x_val, &y_val, &CrossEntropyLoss::new()).unwrap();
    assert_eq!(now.loss, lowest);
    assert!(history[0].val_accuracy.is_some());
    let line = history[0].to_string();
    assert!(
        line.contains(", Val Loss: ") && line.contains(", Val Accuracy: "),
        "{line}"
    );
    let table = history.to_string();
    assert!(
        table.starts_with("epoch  train loss  train acc  val loss  val acc"),
        "{table}"
    );
}

#[test]
fn a_validation_set_that_does_not_fit_is_an_error_before_training() {
    let (x, y) = quadrants(16, 11);
    let mut model = Xor::seeded(0);
    let before = model.clone();
    let wrong_rows = Labels::new(vec![0; 3], 2).unwrap();
    let error = Trainer::new(3)
        .quiet()
        .validate(&x, &wrong_rows)
        .fit(
            &mut model,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut SGD::new(0.1),
        )
        .unwrap_err();
    assert_eq!(
        error,
        Error::RowMismatch {
            input: 16,
            target: 3
        }
    );
    assert_eq!(model, before);
}

#[test]
fn the_trainer_clips_gradients_and_follows_a_schedule() {
    let (x, y) = quadrants(64, 11);
    let loss = CrossEntropyLoss::new();
    // One full-batch step per epoch: the trainer's clipped step is the hand-written one.
    let mut by_hand = Xor::seeded(4);
    let mut sgd = SGD::new(0.5);
    for epoch in 0..3 {
        StepLR::new(0.5, 1, 0.5).apply(&mut sgd, epoch);
        by_hand.zero_grad();
        let output = by_hand.forward_train(&x);
        let mut grad = Batch::<2>::zeros(64);
        Loss::<2>::loss_and_grad(&loss, output.as_slice(), &y, grad.as_mut_slice());
        by_hand.backward(&grad).unwrap();
        clip_grad_norm(&mut by_hand, 0.1);
        sgd.step(&mut by_hand);
    }
    let mut trained = Xor::seeded(4);
    let history = Trainer::new(3)
        .quiet()
        .clip_grad_norm(0.1)
        .lr_schedule(StepLR::new(0.5, 1, 0.5))
        .fit(&mut trained, &x, &y, &loss, &mut SGD::new(0.5))
        .unwrap();
    assert_eq!(trained, by_hand);
    let rates: Vec<f64> = history.iter().map(|r| r.lr).collect();
    assert_eq!(rates, [0.5, 0.25, 0.125]);
}

#[test]
fn evaluation_has_a_confusion_matrix_for_labels() {
    let (x, y) = quadrants(50, 11);
    let model = Xor::seeded(0);
    let evaluation = evaluate(&model, &x, &y, &CrossEntropyLoss::new()).unwrap();
    let confusion = evaluation.confusion.as_ref().unwrap();
    let total: usize = (0..2)
        .flat_map(|a| (0..2).map(move |p| (a, p)))
        .map(|(a, p)| confusion.count(a, p))
        .sum();
    let right = confusion.count(0, 0) + confusion.count(1, 1);
    assert_eq!(total, 50);
    assert_eq!(right as f32 / 50.0, evaluation.accuracy.unwrap());
    assert!(evaluation.to_string().contains("actual \\ predicted"));
    let regression = evaluate(&model, &x, &Batch::<2>::zeros(50), &MSELoss::new()).unwrap();
    assert_eq!((regression.accuracy, regression.confusion), (None, None));
}
