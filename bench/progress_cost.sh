#!/usr/bin/env bash
# What the progress bar costs: `examples/progress_cost.rs` in a pseudo-terminal (so that the bar
# is drawn), its epoch lines thrown away, its figures printed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example progress_cost
log=$(mktemp)
trap 'rm -f "$log"' EXIT
script -qfc "target/release/examples/progress_cost > /dev/null" "$log" > /dev/null
tr -d "\r" < "$log" | grep -a -o -E "(batch [0-9]+, .*|  (bare|Trainer).*)"
