//! Our training and inference against PyTorch's on the same workloads, side by side in one run:
//! `bench/compare.sh` (or `cargo run --release --example compare`).
//!
//! Each workload is timed as the median of many steps after warm-up, in `--rounds` rounds (3 by
//! default) in which the two sides take turns; each side keeps its best round. PyTorch's side is
//! `bench/torch_side.py`, run here if `python3 -c "import torch"` works (`pip install torch`
//! brings it); without it, our side is printed alone.

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use nn::prelude::*;

network! { struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid } }
network! { struct Digits { Linear(64, 128) -> ReLU -> Linear(128, 10) } }
network! { struct Large { Linear(784, 512) -> ReLU -> Linear(512, 256) -> ReLU -> Linear(256, 10) } }
network! {
    /// MNIST-1D's `ConvBase`.
    struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}
network! {
    /// MNIST-1D's `MLPBase`.
    struct MlpBase {
        linear1: Linear(40, 100) -> ReLU -> Residual(linear2: Linear(100, 100) -> ReLU) -> linear3: Linear(100, 10)
    }
}

network! {
    /// LeNet-5 on 28×28 images.
    struct LeNet {
        Input(1, 28, 28)
            -> Conv2d(1, 6, 5, padding = 2) -> ReLU -> MaxPool2d(2)
            -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
            -> Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
    }
}
network! {
    /// Convolutions with batch normalisation on 3×32×32 images.
    struct Block {
        Input(3, 32, 32)
            -> Conv2d(3, 32, 3, padding = 1) -> BatchNorm2d(32) -> ReLU
            -> Conv2d(32, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)
            -> Conv2d(64, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU
            -> AdaptiveAvgPool2d(1) -> Flatten -> Linear(64, 10)
    }
}

/// A network's products as `(positions per example, patch, outputs)`, first layer first: what
/// its forward pass multiplies.
type Products = [(usize, usize, usize)];

/// LeNet's: two convolutions (28² and 10² positions), then three `Linear` layers.
const LENET: [(usize, usize, usize); 5] = [
    (28 * 28, 25, 6),
    (10 * 10, 150, 16),
    (1, 400, 120),
    (1, 120, 84),
    (1, 84, 10),
];

/// Block's: three 3×3 convolutions (32², 32² and 16² positions), then its `Linear`.
const BLOCK: [(usize, usize, usize); 4] = [
    (32 * 32, 27, 32),
    (32 * 32, 288, 64),
    (16 * 16, 576, 64),
    (1, 64, 10),
];

/// Floating-point operations of a forward pass over `batch` examples.
fn products_infer_flops(products: &Products, batch: usize) -> f64 {
    products
        .iter()
        .map(|&(positions, patch, out)| 2.0 * (batch * positions * patch * out) as f64)
        .sum()
}

/// Of a training step: each product three times (forward, weight gradient, input gradient),
/// but the first layer's input gradient.
fn products_train_flops(products: &Products, batch: usize) -> f64 {
    let (positions, patch, out) = products[0];
    3.0 * products_infer_flops(products, batch) - 2.0 * (batch * positions * patch * out) as f64
}

/// ConvBase's products as `(positions per example, patch, output channels)`, first layer first.
const CONV_BASE: [(usize, usize, usize); 4] =
    [(19, 5, 25), (10, 75, 25), (5, 75, 25), (1, 125, 10)];

/// Median microseconds per call of `step`, over `repeats` groups of `inner` calls.
fn median_us(mut step: impl FnMut(), warmup: usize, repeats: usize, inner: usize) -> f64 {
    for _ in 0..warmup {
        step();
    }
    let mut samples: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..inner {
                step();
            }
            start.elapsed().as_secs_f64() * 1e6 / inner as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Floating-point operations of one training step: the forward product, the weight gradient,
/// and the input gradient of every layer but the first.
fn train_flops(widths: &[usize], batch: usize) -> f64 {
    let products: Vec<f64> = widths
        .windows(2)
        .map(|w| 2.0 * (batch * w[0] * w[1]) as f64)
        .collect();
    products.iter().sum::<f64>() * 2.0 + products[1..].iter().sum::<f64>()
}

fn infer_flops(widths: &[usize], batch: usize) -> f64 {
    widths
        .windows(2)
        .map(|w| 2.0 * (batch * w[0] * w[1]) as f64)
        .sum()
}

struct Row {
    name: &'static str,
    batch: usize,
    us: f64,
    flops: f64,
}

fn ours() -> Vec<Row> {
    let mut rows = Vec::new();

    let mut model = SimpleNN::seeded(0);
    for batch in [1, 32] {
        let x = Batch::<64>::random(batch, 1);
        let mut out = Batch::zeros(batch);
        let us = median_us(
            || model.forward_into(black_box(&x), &mut out),
            1000,
            31,
            2000,
        );
        let name = if batch == 1 {
            "seed_infer_b1"
        } else {
            "seed_infer_b32"
        };
        rows.push(Row {
            name,
            batch,
            us,
            flops: infer_flops(&[64, 128, 2], batch),
        });
    }

    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::from_vec(
        32,
        Labels::random(64, 2, 2)
            .indices()
            .iter()
            .map(|&l| l as f32)
            .collect(),
    )
    .unwrap();
    let (loss, mut adam) = (BCELoss::new(), Adam::new(0.01));
    let us = median_us(
        || {
            model.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        200,
        31,
        200,
    );
    rows.push(Row {
        name: "seed_train",
        batch: 32,
        us,
        flops: train_flops(&[64, 128, 2], 32),
    });

    let mut digits = Digits::seeded(0);
    let x = Batch::<64>::random(64, 3);
    let y = Labels::random(64, 10, 4);
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-3));
    let us = median_us(
        || {
            digits.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        200,
        31,
        100,
    );
    rows.push(Row {
        name: "digits_train",
        batch: 64,
        us,
        flops: train_flops(&[64, 128, 10], 64),
    });

    let mut large = Large::seeded(0);
    let x = Batch::<784>::random(128, 5);
    let y = Labels::random(128, 10, 6);
    let mut adam = Adam::new(1e-3);
    let us = median_us(
        || {
            large.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        20,
        21,
        5,
    );
    rows.push(Row {
        name: "large_train",
        batch: 128,
        us,
        flops: train_flops(&[784, 512, 256, 10], 128),
    });

    let mut conv = ConvBase::seeded(0);
    let x = Batch::<40>::random(100, 7);
    let y = Labels::random(100, 10, 8);
    let mut adam = Adam::new(1e-2);
    let us = median_us(
        || {
            conv.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        50,
        31,
        20,
    );
    rows.push(Row {
        name: "mnist1d_conv_train",
        batch: 100,
        us,
        flops: products_train_flops(&CONV_BASE, 100),
    });
    let one = Batch::<40>::random(1, 9);
    let mut out = Batch::zeros(1);
    let us = median_us(
        || conv.forward_into(black_box(&one), &mut out),
        1000,
        31,
        1000,
    );
    rows.push(Row {
        name: "mnist1d_conv_infer_b1",
        batch: 1,
        us,
        flops: products_infer_flops(&CONV_BASE, 1),
    });

    let mut mlp = MlpBase::seeded(0);
    let mut adam = Adam::new(1e-2);
    let us = median_us(
        || {
            mlp.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        50,
        31,
        50,
    );
    rows.push(Row {
        name: "mnist1d_mlp_train",
        batch: 100,
        // The residual sum adds no product.
        flops: train_flops(&[40, 100, 100, 10], 100),
        us,
    });

    let mut lenet = LeNet::seeded(0);
    let x = Batch::<784>::random(64, 10);
    let y = Labels::random(64, 10, 11);
    let mut adam = Adam::new(1e-3);
    let us = median_us(
        || {
            lenet.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        5,
        11,
        10,
    );
    rows.push(Row {
        name: "lenet_train",
        batch: 64,
        us,
        flops: products_train_flops(&LENET, 64),
    });
    let one = Batch::<784>::random(1, 12);
    let mut out = Batch::zeros(1);
    let us = median_us(
        || lenet.forward_into(black_box(&one), &mut out),
        200,
        31,
        200,
    );
    rows.push(Row {
        name: "lenet_infer_b1",
        batch: 1,
        us,
        flops: products_infer_flops(&LENET, 1),
    });

    let mut block = Block::seeded(0);
    let x = Batch::<3072>::random(64, 13);
    let mut adam = Adam::new(1e-3);
    let us = median_us(
        || {
            block.train_step(&x, &y, &loss, &mut adam).unwrap();
        },
        2,
        5,
        2,
    );
    rows.push(Row {
        name: "block_train",
        batch: 64,
        us,
        flops: products_train_flops(&BLOCK, 64),
    });
    rows
}

/// PyTorch's figures by `(workload, threads)`, or `None` when PyTorch is not installed.
fn pytorch() -> Option<HashMap<(String, u32), f64>> {
    let output = Command::new("python3")
        .arg("bench/torch_side.py")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut figures = HashMap::new();
    for line in text.lines() {
        // {"name": "seed_train", "threads": 1, "us": 348.5, ...}: a flat object, read by hand.
        let field = |key: &str| {
            let start = line.find(&format!("\"{key}\": "))? + key.len() + 4;
            let rest = &line[start..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            Some(rest[..end].trim().trim_matches('"').to_owned())
        };
        let (Some(name), Some(threads)) = (field("name"), field("threads")) else {
            continue;
        };
        let value = field("us")
            .or_else(|| field("gflops"))
            .and_then(|v| v.parse().ok());
        if let (Ok(threads), Some(value)) = (threads.parse(), value) {
            figures.insert((name, threads), value);
        }
    }
    Some(figures)
}

/// Peak resident memory of this process, in KiB (Linux), from `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `large_train` alone and prints the process's peak memory: the child side of the
/// memory comparison.
fn large_train_memory() {
    let mut large = Large::seeded(0);
    let x = Batch::<784>::random(128, 5);
    let y = Labels::random(128, 10, 6);
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-3));
    for _ in 0..20 {
        large.train_step(&x, &y, &loss, &mut adam).unwrap();
    }
    println!("{}", peak_rss_kib().unwrap_or(0));
}

/// Peak memory (KiB) of a process running `large_train` alone: ours, then PyTorch's.
fn memory() -> (Option<u64>, Option<u64>) {
    let run = |command: &mut Command| {
        let output = command.output().ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    let ours = std::env::current_exe()
        .ok()
        .and_then(|exe| run(Command::new(exe).arg("--large-train-memory")));
    let theirs = run(Command::new("python3").args(["bench/torch_side.py", "--large-train-memory"]));
    (ours, theirs)
}

fn main() {
    if std::env::args().any(|a| a == "--large-train-memory") {
        return large_train_memory();
    }
    // The machine's speed drifts (other tenants, frequency): the two sides take turns, and
    // each keeps its best figure over the rounds.
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut rows: Vec<Row> = Vec::new();
    let mut torch: Option<HashMap<(String, u32), f64>> = None;
    for round in 1..=rounds {
        println!("round {round} of {rounds}: our side…");
        for row in ours() {
            match rows.iter_mut().find(|r| r.name == row.name) {
                Some(best) => best.us = best.us.min(row.us),
                None => rows.push(row),
            }
        }
        println!("round {round} of {rounds}: PyTorch…");
        let Some(figures) = pytorch() else { break };
        let best = torch.get_or_insert_with(HashMap::new);
        for (key, value) in figures {
            // Times keep their minimum, the matmul peak (GFLOP/s) its maximum.
            let better = |old: f64| {
                if key.0 == "matmul_peak" {
                    old.max(value)
                } else {
                    old.min(value)
                }
            };
            let merged = best.get(&key).map_or(value, |&old| better(old));
            best.insert(key, merged);
        }
    }
    if torch.is_none() {
        println!("PyTorch is not installed (`pip install torch` brings it): our side only.\n");
    }
    let figure = |name: &str, threads: u32| {
        torch
            .as_ref()
            .and_then(|t| t.get(&(name.to_owned(), threads)).copied())
    };
    let peak = figure("matmul_peak", 1);
    println!();
    println!(
        "{:<22} {:>10} {:>12} {:>9} {:>8} {:>11} {:>11} {:>8} {:>8}",
        "workload",
        "µs/step",
        "samples/s",
        "GFLOP/s",
        "% peak",
        "torch 1T µs",
        "torch 2T µs",
        "× 1T",
        "× 2T"
    );
    for row in &rows {
        let gflops = row.flops / row.us / 1e3;
        let cell =
            |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
        let (t1, t2) = (figure(row.name, 1), figure(row.name, 2));
        println!(
            "{:<22} {:>10.2} {:>12.0} {:>9.1} {:>8} {:>11} {:>11} {:>8} {:>8}",
            row.name,
            row.us,
            row.batch as f64 / row.us * 1e6,
            gflops,
            cell(peak.map(|p| 100.0 * gflops / p), 1),
            cell(t1, 1),
            cell(t2, 1),
            cell(t1.map(|t| t / row.us), 1),
            cell(t2.map(|t| t / row.us), 1),
        );
    }
    if let (Some(p1), Some(p2)) = (peak, figure("matmul_peak", 2)) {
        println!("\nmatmul peak (PyTorch, 1024³): {p1:.0} GFLOP/s on 1 thread, {p2:.0} on 2");
    }
    let (ours, theirs) = memory();
    let mib = |kib: Option<u64>| {
        kib.map_or("–".to_owned(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "peak memory of a process training large_train: ours {}, PyTorch {}",
        mib(ours),
        mib(theirs)
    );
}
