//! Recreates a PyTorch classifier on real data: the scikit-learn digits (8×8 images, 10 classes),
//! `Linear(64, 128) -> ReLU -> Linear(128, 10)`, `CrossEntropyLoss`, `Adam(lr=1e-3)`, batch 64,
//! 30 epochs, on the fixed split in `examples/data` (PyTorch reaches 97.5% test accuracy there).
//!
//! ```text
//! cargo run --release --example digits
//! ```

use std::io::Read;
use std::time::Instant;

use nn::prelude::*;

network! {
    /// A small classifier of 8×8 digit images.
    struct DigitsNet {
        hidden: Linear(64, 128) -> ReLU -> output: Linear(128, 10)
    }
}

/// The images (pixels scaled to `[0, 1]`) and labels of the rows at `indices`.
fn subset(
    pixels: &[f32],
    labels: &[usize],
    indices: &[usize],
) -> Result<(Batch<64>, Labels), Error> {
    let rows: Vec<f32> = indices
        .iter()
        .flat_map(|&i| pixels[i * 64..(i + 1) * 64].iter().copied())
        .collect();
    let x = Batch::from_vec(indices.len(), rows)?;
    let y = Labels::new(indices.iter().map(|&i| labels[i]).collect(), 10)?;
    Ok((x, y))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let mut csv = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data.join("digits.csv.gz"))?)
        .read_to_string(&mut csv)?;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1) {
        let values: Vec<f32> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
        pixels.extend(values[..64].iter().map(|p| p / 16.0));
        labels.push(values[64] as usize);
    }
    let order: Vec<usize> = std::fs::read_to_string(data.join("digits_perm_seed0.txt"))?
        .lines()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (train_x, train_y) = subset(&pixels, &labels, &order[..1437])?;
    let (test_x, test_y) = subset(&pixels, &labels, &order[1437..])?;

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
