//! Criterion benchmarks of the workloads in `bench/compare.sh`: `cargo bench`.
//! The comparison with PyTorch, side by side, is `bench/compare.sh`.
#![allow(missing_docs)] // `criterion_group!` defines functions without docs

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nn::prelude::*;

network! { struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid } }
network! { struct Digits { Linear(64, 128) -> ReLU -> Linear(128, 10) } }
network! { struct Large { Linear(784, 512) -> ReLU -> Linear(512, 256) -> ReLU -> Linear(256, 10) } }

fn seed(c: &mut Criterion) {
    let mut model = SimpleNN::seeded(0);
    for batch in [1, 32] {
        let x = Batch::<64>::random(batch, 1);
        let mut out = Batch::zeros(batch);
        c.bench_function(&format!("seed_infer_b{batch}"), |b| {
            b.iter(|| model.forward_into(black_box(&x), &mut out))
        });
    }
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::random(32, 2);
    let (loss, mut adam) = (BCELoss::new(), Adam::new(0.01));
    c.bench_function("seed_train", |b| {
        b.iter(|| {
            model
                .train_step(black_box(&x), &y, &loss, &mut adam)
                .unwrap()
        })
    });
}

fn digits(c: &mut Criterion) {
    let mut model = Digits::seeded(0);
    let x = Batch::<64>::random(64, 3);
    let y = Labels::random(64, 10, 4);
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-3));
    c.bench_function("digits_train", |b| {
        b.iter(|| {
            model
                .train_step(black_box(&x), &y, &loss, &mut adam)
                .unwrap()
        })
    });
}

fn large(c: &mut Criterion) {
    let mut model = Large::seeded(0);
    let x = Batch::<784>::random(128, 5);
    let y = Labels::random(128, 10, 6);
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-3));
    c.bench_function("large_train", |b| {
        b.iter(|| {
            model
                .train_step(black_box(&x), &y, &loss, &mut adam)
                .unwrap()
        })
    });
}

/// The seed step with each optimizer, after 10k steps: by then the state of units that no
/// longer receive gradient has decayed into the subnormals, where arithmetic would be slow.
fn optimizers(c: &mut Criterion) {
    seed_train_with(c, "seed_train_sgd_momentum", SGD::new(0.1).momentum(0.9));
    seed_train_with(c, "seed_train_rmsprop", RMSprop::new(0.01));
    seed_train_with(c, "seed_train_adam_amsgrad", Adam::new(0.01).amsgrad(true));
    seed_train_with(c, "seed_train_adamw", AdamW::new(0.01));
}

fn seed_train_with<O: Optimizer>(c: &mut Criterion, name: &str, mut optimizer: O) {
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::random(32, 2);
    let loss = BCELoss::new();
    let mut model = SimpleNN::seeded(0);
    let mut step = |model: &mut SimpleNN| {
        model
            .train_step(black_box(&x), &y, &loss, &mut optimizer)
            .unwrap()
    };
    for _ in 0..10_000 {
        step(&mut model);
    }
    c.bench_function(name, |b| b.iter(|| step(&mut model)));
}

criterion_group! {
    name = workloads;
    config = Criterion::default().sample_size(20);
    targets = seed, digits, large, optimizers
}
criterion_main!(workloads);
