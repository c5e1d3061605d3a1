//! Trains a classifier on real data, as a person would on their own CSV file: the scikit-learn
//! digits (8×8 images, 10 classes) read from `examples/data/digits.csv.gz`,
//! `Linear(64, 128) -> ReLU -> Linear(128, 10)`, `CrossEntropyLoss`, `Adam(lr=1e-3)`, batch 64,
//! 30 epochs.
//!
//! The test rows are those of the fixed split in `examples/data` (where PyTorch reaches 97.5%
//! test accuracy); a seeded 15% of the other rows is held out for validation. The features are
//! standardised with statistics of the training rows only. Training shows a progress bar on a
//! terminal, validates after each epoch, and writes a checkpoint after each epoch into
//! `digits-checkpoint/`: stop it (Ctrl-C) and run it again with `--resume` to go on from there.
//! At the end it writes `digits-history.csv`, `digits-loss.svg` and the weights with the
//! scaler, `digits.safetensors`, into the working directory.
//!
//! ```text
//! cargo run --release --example digits
//! cargo run --release --example digits -- --resume
//! ```

use std::time::Instant;

use nn::data::{Csv, Scaler};
use nn::prelude::*;

network! {
    /// A small classifier of 8×8 digit images.
    struct DigitsNet {
        hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10)
    }
}

const CHECKPOINTS: &str = "digits-checkpoint";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resume = std::env::args().any(|arg| arg == "--resume");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    // 64 pixel counts (0 to 16) and the class: `pixel_0,…,pixel_63,label`.
    let (pixels, labels) = Csv::new()
        .target("label")
        .read_classes::<64>(data.join("digits.csv.gz"), 10)?;
    // The split PyTorch's run used: a permutation of the rows, the first 1437 for training.
    let order = nn::data::read_indices(data.join("digits_perm_seed0.txt"))?;
    let (learn, test) = order.split_at(1437);
    let parts = nn::data::split(learn.len(), &[0.85, 0.15], 0)?;
    let pick = |part: &[usize]| part.iter().map(|&i| learn[i]).collect::<Vec<_>>();
    let (train, validation) = (pick(&parts[0]), pick(&parts[1]));

    let scaler = Scaler::standard(&pixels.select(&train))?;
    let rows = |indices: &[usize]| {
        (
            scaler.apply(&pixels.select(indices)),
            labels.select(indices),
        )
    };
    let (train_x, train_y) = rows(&train);
    let (val_x, val_y) = rows(&validation);
    let (test_x, test_y) = rows(test);
    println!(
        "{} training, {} validation and {} test images",
        train_y.len(),
        val_y.len(),
        test_y.len()
    );

    let mut model = DigitsNet::seeded(0);
    let loss = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(1e-3);
    let mut trainer = Trainer::new(30)
        .batch_size(64)
        .shuffle(0)
        .validate(&val_x, &val_y)
        .checkpoint_every(1, CHECKPOINTS);
    if resume {
        trainer = trainer.resume(CHECKPOINTS);
    }
    let start = Instant::now();
    let history = trainer.fit(&mut model, &train_x, &train_y, &loss, &mut optimizer)?;
    let elapsed = start.elapsed();

    println!("\n{history}\n");
    let test = evaluate(&model, &test_x, &test_y, &loss)?;
    println!("test: {test}\n");
    println!(
        "test accuracy {:.2}%; training took {:.3} s",
        100.0 * test.accuracy.unwrap_or(0.0),
        elapsed.as_secs_f64()
    );

    history.write_csv("digits-history.csv")?;
    history.write_svg("digits-loss.svg")?;
    nn::io::save_safetensors(&(&model, &scaler), "digits.safetensors".as_ref())?;
    println!(
        "wrote digits-history.csv, digits-loss.svg and digits.safetensors (weights and scaler)"
    );
    println!("the checkpoint of the last epoch is in {CHECKPOINTS}/");
    Ok(())
}
