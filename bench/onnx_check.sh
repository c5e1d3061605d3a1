#!/usr/bin/env bash
# Exports a network per layer kind, the seed and the digits networks to ONNX, and checks the
# files with Python's `onnx.checker` (full check) and ONNX Runtime, and the round trip through
# `torch.onnx.export`. Installs nothing: without `onnx` and `onnxruntime`
# (`pip install onnx onnxruntime`), it says so and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/onnx-models}"
cargo run --release --quiet --example onnx_models -- "$dir" > /dev/null
if ! python3 -c "import onnx, onnxruntime" 2> /dev/null; then
    echo "wrote the models to $dir; to check them: pip install onnx onnxruntime"
    exit 0
fi
exec python3 bench/onnx_check.py "$dir"
