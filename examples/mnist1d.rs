//! MNIST-1D (Greydanus 2020) with the data set's own training loop, for the three baselines of
//! its paper: logistic regression, the residual MLP `MLPBase` and the convolutional `ConvBase`.
//! Each trains for 8000 steps of Adam (learning rate 1e-2) on batches of 100 taken in order,
//! with `CrossEntropyLoss`, from a seeded initialisation; the table compares the test
//! accuracy with the paper's and with PyTorch's runs of the same loop (`bench/mnist1d_torch.py`).
//!
//! ```text
//! cargo run --release --example mnist1d                  # seed 0
//! cargo run --release --example mnist1d -- --seeds 5     # seeds 0 to 4, with the mean
//! cargo run --release --example mnist1d -- --steps 400   # a shorter run
//! ```

use std::time::Instant;

use nn::data::Csv;
use nn::prelude::*;

network! {
    /// Logistic regression: one `Linear` layer on the 40 values.
    pub struct LogReg {
        linear: Linear(40, 10)
    }
}

network! {
    /// The MNIST-1D MLP baseline (`MLPBase`): h = relu(linear1 x); h = h + relu(linear2 h); linear3 h.
    pub struct MlpBase {
        linear1: Linear(40, 100) -> ReLU -> Residual(linear2: Linear(100, 100) -> ReLU) -> linear3: Linear(100, 10)
    }
}

network! {
    /// The MNIST-1D convolutional baseline (Greydanus 2020, `ConvBase`).
    pub struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

/// The data set's loop: `steps` steps over batches of 100 rows in order, wrapping around.
/// Returns the test accuracy and the training time in seconds.
fn run<M: Network<40, 10>>(
    model: &mut M,
    train: &(Batch<40>, Labels),
    test: &(Batch<40>, Labels),
    steps: usize,
) -> Result<(f64, f64), nn::Error> {
    const BATCH: usize = 100;
    let (x, y) = train;
    let loss = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(1e-2);
    // Every batch gathered once, before the clock starts, as the PyTorch loop slices tensors.
    let batches: Vec<(Batch<40>, Labels)> = (0..x.rows() / BATCH)
        .map(|b| {
            let rows: Vec<usize> = (b * BATCH..(b + 1) * BATCH).collect();
            (x.select(&rows), y.select(&rows))
        })
        .collect();
    let start = Instant::now();
    for step in 0..steps {
        let (xb, yb) = &batches[step % batches.len()];
        model.train_step(xb, yb, &loss, &mut optimizer)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let evaluation = evaluate(model, &test.0, &test.1, &loss)?;
    let accuracy = evaluation.accuracy.expect("class labels give an accuracy");
    Ok((f64::from(accuracy) * 100.0, seconds))
}

/// `--name value` from the command line, or `default`.
fn option(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds = option("--seeds", 1) as u64;
    let steps = option("--steps", 8000);
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/mnist1d");
    let read = |file: &str| {
        Csv::new()
            .target("label")
            .read_classes::<40>(data.join(file), 10)
    };
    let train = read("mnist1d_train.csv.gz")?;
    let test = read("mnist1d_test.csv.gz")?;
    println!(
        "MNIST-1D: {} training and {} test rows; {steps} steps of Adam(1e-2), batch 100\n",
        train.0.rows(),
        test.0.rows()
    );
    println!("{}\n", ConvBase::seeded(0));

    // (model, the paper's accuracy, PyTorch's mean over seeds 0-4 of this loop)
    let models: [(&str, f64, f64); 3] = [
        ("logistic regression", 32.0, 31.5),
        ("MLP (MLPBase)", 68.0, 65.7),
        ("CNN (ConvBase)", 94.0, 93.6),
    ];
    println!(
        "{:<20} {:>6} {:>10} {:>10} {:>8}",
        "model", "seed", "test acc", "train s", "s/step"
    );
    let mut results = Vec::new();
    for (index, (name, _, _)) in models.iter().enumerate() {
        let mut accuracies = Vec::new();
        let mut times = Vec::new();
        for seed in 0..seeds {
            let (accuracy, seconds) = match index {
                0 => run(&mut LogReg::seeded(seed), &train, &test, steps)?,
                1 => run(&mut MlpBase::seeded(seed), &train, &test, steps)?,
                _ => run(&mut ConvBase::seeded(seed), &train, &test, steps)?,
            };
            println!(
                "{name:<20} {seed:>6} {accuracy:>9.1}% {seconds:>10.2} {:>7.0}µs",
                seconds * 1e6 / steps as f64
            );
            accuracies.push(accuracy);
            times.push(seconds);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        results.push((mean(&accuracies), mean(&times)));
    }

    println!(
        "\n{:<20} {:>10} {:>14} {:>10} {:>10}",
        "model", "paper", "PyTorch loop", "ours", "train s"
    );
    for ((name, paper, pytorch), (ours, seconds)) in models.iter().zip(&results) {
        println!("{name:<20} {paper:>9.1}% {pytorch:>13.1}% {ours:>9.1}% {seconds:>10.2}");
    }
    println!(
        "\n(the paper: Greydanus 2020, table 1; PyTorch: bench/mnist1d_torch.py, seeds 0-4, {} here)",
        if seeds > 1 {
            format!("the mean of seeds 0-{}", seeds - 1)
        } else {
            "seed 0".to_owned()
        }
    );
    Ok(())
}
