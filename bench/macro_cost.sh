#!/usr/bin/env bash
# The compile-time cost of `network!`: builds small binaries that depend on `nn` (one with no
# network, one with the seed network, one with a 16-layer network, one with the convolutional
# and residual networks ConvBase, MlpBase, LeNet and Block), each after a `touch`, and prints the
# seconds each rebuild took. Dependencies are built once first and not counted.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

make_crate() { # name, items, body
    mkdir -p "$work/$1/src"
    cat > "$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
[dependencies]
nn = { path = "$root" }
[workspace]
TOML
    printf 'use nn::prelude::*;\n%s\nfn main() {\n    let x = Batch::<64>::random(4, 0);\n%s\n}\n' "$2" "$3" > "$work/$1/src/main.rs"
}

deep=$(printf -- '-> Linear(64, 64) -> ReLU %.0s' $(seq 7))
make_crate plain "" "    println!(\"{}\", x.rows());"
make_crate seed "network! { struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid } }" \
    "    println!(\"{:?}\", SimpleNN::seeded(0).forward(&x).row(0));"
make_crate deep16 "network! { struct Deep { Linear(64, 64) -> ReLU $deep } }" \
    "    println!(\"{:?}\", Deep::seeded(0).forward(&x).row(0));"

make_crate convs "network! { struct ConvBase { Input(1, 40)
        -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
        -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
        -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
        -> Flatten -> linear: Linear(125, 10) } }
network! { struct MlpBase { linear1: Linear(40, 100) -> ReLU
        -> Residual(linear2: Linear(100, 100) -> ReLU) -> linear3: Linear(100, 10) } }
network! { struct LeNet { Input(1, 28, 28)
        -> Conv2d(1, 6, 5, padding = 2) -> ReLU -> MaxPool2d(2)
        -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
        -> Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10) } }
network! { struct Block { Input(3, 32, 32)
        -> Conv2d(3, 32, 3, padding = 1) -> BatchNorm2d(32) -> ReLU
        -> Conv2d(32, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)
        -> Conv2d(64, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU
        -> AdaptiveAvgPool2d(1) -> Flatten -> Linear(64, 10) } }" \
    "    println!(\"{} {:?} {:?} {:?} {:?}\", x.rows(),
        ConvBase::seeded(0).forward(&Batch::<40>::random(2, 0)).row(0),
        MlpBase::seeded(0).forward(&Batch::<40>::random(2, 0)).row(0),
        LeNet::seeded(0).forward(&Batch::<784>::random(2, 0)).row(0),
        Block::seeded(0).forward(&Batch::<3072>::random(2, 0)).row(0));"

for profile in dev release; do
    for name in plain seed deep16 convs; do
        (cd "$work/$name" && cargo build --quiet --profile "$profile" 2>/dev/null)
    done
    for name in plain seed deep16 convs; do
        touch "$work/$name/src/main.rs"
        start=$(date +%s.%N)
        (cd "$work/$name" && cargo build --quiet --profile "$profile")
        end=$(date +%s.%N)
        awk -v p="$profile" -v n="$name" -v s="$start" -v e="$end" \
            'BEGIN { printf "%-8s %-8s %.2f s\n", p, n, e - s }'
    done
done
