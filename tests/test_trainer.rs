//! The training loop: epochs of shuffled mini-batches, reports, early stopping and evaluation.

use nn::prelude::*;

network! {
    #[derive(Clone)]
    struct Xor { Linear(2, 16) -> Tanh -> Linear(16, 2) }
}

/// Points in the four quadrants around the origin, labelled by the sign of `x·y` (XOR).
fn quadrants(rows: usize) -> (Batch<2>, Labels) {
    let points = Batch::<2>::random(rows, 11);
    let centred: Vec<f32> = points.as_slice().iter().map(|v| 2.0 * v - 1.0).collect();
    let labels = centred
        .chunks(2)
        .map(|p| usize::from(p[0] * p[1] > 0.0))
        .collect();
    (
        Batch::from_vec(rows, centred).unwrap(),
        Labels::new(labels, 2).unwrap(),
    )
}

#[test]
fn mini_batch_training_learns_and_reports_each_epoch() {
    let (x, y) = quadrants(256);
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
    let (x, y) = quadrants(100);
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
    let (x, _) = quadrants(8);
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
