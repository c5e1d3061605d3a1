#!/usr/bin/env bash
# Runs our benchmarks and PyTorch's on the same workloads and prints one table of ratios.
# Installs nothing: without PyTorch (`pip install torch`), prints our side alone.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet --example compare -- "$@"
