#!/usr/bin/env bash
# The compile-time cost of `network!`: builds three small binaries that depend on `nn` (one with
# no network, one with the seed network, one with a 16-layer network), each after a `touch`, and
# prints the seconds each rebuild took. Dependencies are built once first and not counted.
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

for profile in dev release; do
    for name in plain seed deep16; do
        (cd "$work/$name" && cargo build --quiet --profile "$profile" 2>/dev/null)
    done
    for name in plain seed deep16; do
        touch "$work/$name/src/main.rs"
        start=$(date +%s.%N)
        (cd "$work/$name" && cargo build --quiet --profile "$profile")
        end=$(date +%s.%N)
        awk -v p="$profile" -v n="$name" -v s="$start" -v e="$end" \
            'BEGIN { printf "%-8s %-8s %.2f s\n", p, n, e - s }'
    done
done
