//! What showing progress costs: the seed workload (`SimpleNN`, 32 rows, `BCELoss`, Adam) trained
//! through the `Trainer` with each [`Progress`] mode, against the same steps in a bare loop.
//! Run it in a terminal, so that the bar is drawn (`bench/progress_cost.sh` does it in a
//! pseudo-terminal and prints the figures):
//!
//! ```text
//! cargo run --release --example progress_cost
//! ```

use std::time::Instant;

use nn::prelude::*;

network! { struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid } }

/// Epochs per measurement, and rounds (each mode keeps its best).
const EPOCHS: usize = 3000;
const ROUNDS: usize = 5;

fn main() -> Result<(), Error> {
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::from_vec(32, (0..64).map(|i| (i % 3 == 0) as u8 as f32).collect())?;
    let loss = BCELoss::new();
    let mut results: Vec<(&str, f64)> = Vec::new();
    for batch_size in [32, 4] {
        let steps = EPOCHS * 32 / batch_size;
        let bare = best_of(|| {
            let mut model = SimpleNN::seeded(0);
            let mut adam = Adam::new(0.01);
            let (mut bx, mut by) = (
                Batch::<64>::zeros(batch_size),
                Batch::<2>::zeros(batch_size),
            );
            let rows: Vec<usize> = (0..32).collect();
            let start = Instant::now();
            for _ in 0..EPOCHS {
                for chunk in rows.chunks(batch_size) {
                    x.gather_into(chunk, &mut bx);
                    y.gather_into(chunk, &mut by);
                    model.train_step(&bx, &by, &loss, &mut adam).unwrap();
                }
            }
            start.elapsed().as_secs_f64()
        });
        results.push(("bare loop", bare / steps as f64));
        for (name, progress) in [
            ("Trainer, Progress::Off", Progress::Off),
            ("Trainer, Progress::Bar", Progress::Bar),
        ] {
            let seconds = best_of(|| {
                let mut model = SimpleNN::seeded(0);
                let trainer = Trainer::new(EPOCHS)
                    .batch_size(batch_size)
                    .progress(progress);
                // Each epoch's line goes to stdout; the measurement is of the bar on stderr.
                let start = Instant::now();
                trainer
                    .fit(&mut model, &x, &y, &loss, &mut Adam::new(0.01))
                    .unwrap();
                start.elapsed().as_secs_f64()
            });
            results.push((name, seconds / steps as f64));
        }
        eprintln!(
            "\nbatch {batch_size}, {} steps per epoch; µs per step:",
            32 / batch_size
        );
        for (name, per_step) in results.drain(..) {
            eprintln!("  {name:<24} {:>8.2}", per_step * 1e6);
        }
    }
    Ok(())
}

fn best_of(mut run: impl FnMut() -> f64) -> f64 {
    (0..ROUNDS).map(|_| run()).fold(f64::INFINITY, f64::min)
}
