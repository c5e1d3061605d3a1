"""Checks the ONNX files that `examples/onnx_models.rs` wrote into DIR with the reference
tools: `onnx.checker` (full check, with shape inference), ONNX Runtime (its outputs against
`forward`'s, and no warning while loading), and, when PyTorch is installed, the round trip:
`torch.onnx.export` of the same model with the same weights has the same initializers.

    python3 bench/onnx_check.py DIR        (bench/onnx_check.sh runs it)

Needs `pip install onnx onnxruntime` (and `torch safetensors` for the round trip).
"""

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-5


def captured_stderr(action):
    """Runs `action()` and returns its result with what was written to file descriptor 2
    (ONNX Runtime logs from C++, past Python's sys.stderr)."""
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            result = action()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return result, log.read().decode(errors="replace")


def check(path):
    """(ops, largest difference, ONNX Runtime's warnings) for one file."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    stem = str(path)[: -len(".onnx")]
    x = np.array(json.loads(Path(stem + ".input.json").read_text()), dtype=np.float32)
    expected = np.array(json.loads(Path(stem + ".output.json").read_text()), dtype=np.float32)
    width = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    options = ort.SessionOptions()
    options.log_severity_level = 2  # warnings and worse
    session, warnings = captured_stderr(
        lambda: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    )
    output = session.run(None, {"input": x.reshape(-1, width)})[0].reshape(-1)
    difference = np.max(np.abs(output - expected) / np.maximum(1.0, np.abs(expected)))
    ops = sorted({node.op_type for node in model.graph.node} - {"Constant"})
    return ops, float(difference), warnings.strip()


def round_trip(directory):
    """Exports the seed network from PyTorch with our weights and compares initializers."""
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError:
        print("\nround trip: skipped (pip install torch safetensors)")
        return True

    class SimpleNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(64, 128)
            self.fc2 = torch.nn.Linear(128, 2)

        def forward(self, x):
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))

    model = SimpleNN().eval()
    model.load_state_dict(load_file(directory / "SimpleNN.safetensors"))
    exported = directory / "SimpleNN.torch.onnx"
    batch = torch.export.Dim("batch")
    with contextlib.redirect_stdout(io.StringIO()):  # its progress messages
        captured_stderr(
            lambda: torch.onnx.export(
                model,
                (torch.zeros(3, 64),),
                str(exported),
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes={"x": {0: batch}},
            )
        )
    theirs = {t.name: t for t in onnx.load(exported).graph.initializer}
    ours = onnx.load(directory / "SimpleNN.onnx").graph.initializer
    same = True
    print("\nround trip through torch.onnx.export (SimpleNN):")
    for tensor in ours:
        other = theirs.get(tensor.name)
        if other is None:
            print(f"  {tensor.name}: missing from PyTorch's file")
            same = False
            continue
        a, b = onnx.numpy_helper.to_array(tensor), onnx.numpy_helper.to_array(other)
        equal = a.shape == b.shape and np.array_equal(a, b)
        same &= equal
        print(f"  {tensor.name:<12} {list(a.shape)!s:<10} {'identical' if equal else 'DIFFERENT'}")
    return same


def main():
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "onnx-models")
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}\n")
    print(f"{'model':<20} {'ONNX operators':<40} {'largest difference':>18}")
    ok = True
    for path in sorted(directory.glob("*.onnx")):
        if path.name.endswith(".torch.onnx"):
            continue
        ops, difference, warnings = check(path)
        ok &= difference <= TOLERANCE and not warnings
        print(f"{path.stem:<20} {', '.join(ops):<40} {difference:>18.1e}")
        if warnings:
            print(f"  ONNX Runtime warned while loading it:\n{warnings}")
    ok &= round_trip(directory)
    print("\nall files pass the full check" + ("" if ok else "; SOME CHECKS FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
