//! Recreates a PyTorch classifier on real data: the scikit-learn digits (8×8 images, 10 classes),
//! `Linear(64, 128) -> ReLU -> Linear(128, 10)`, `CrossEntropyLoss`, `Adam(lr=1e-3)`, batch 64,
//! 30 epochs, on the fixed split in `examples/data` (PyTorch reaches 97.5% test accuracy there).
//!
//! ```text
//! cargo run --release --example digits
//! ```

use std::time::Instant;

use nn::data::Csv;
use nn::prelude::*;

network! {
    /// A small classifier of 8×8 digit images.
    struct DigitsNet {
        hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    // 64 pixel counts (0 to 16) and the class: `pixel_0,…,pixel_63,label`.
    let (pixels, labels) = Csv::new()
        .target("label")
        .read_classes::<64>(data.join("digits.csv.gz"), 10)?;
    let images = Batch::<64>::from_vec(
        pixels.rows(),
        pixels.as_slice().iter().map(|p| p / 16.0).collect(),
    )?;
    // The split PyTorch's run used: a permutation of the rows, the first 1437 for training.
    let order = nn::data::read_indices(data.join("digits_perm_seed0.txt"))?;
    let (train, test) = order.split_at(1437);
    let (train_x, train_y) = (images.select(train), labels.select(train));
    let (test_x, test_y) = (images.select(test), labels.select(test));

    let mut model = DigitsNet::seeded(0);
    let loss = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(1e-3);
    let start = Instant::now();
    let reports = Trainer::new(30).batch_size(64).shuffle(0).quiet().fit(
        &mut model,
        &train_x,
        &train_y,
        &loss,
        &mut optimizer,
    )?;
    let elapsed = start.elapsed();
    for report in reports.iter().filter(|r| r.epoch % 5 == 0 || r.epoch == 1) {
        println!("{report}");
    }
    let test = evaluate(&model, &test_x, &test_y, &loss)?;
    println!(
        "test loss {:.4}, test accuracy {:.2}% ({} test images); 30 epochs took {:.3} s",
        test.loss,
        100.0 * test.accuracy.unwrap_or(0.0),
        test_y.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
