"""Writes the PyTorch side of examples/from_pytorch.rs.

A small classifier, its weights drawn with torch.manual_seed(0), saved as a state dict
(state_dict.safetensors), and a few input rows with PyTorch's outputs for them
(samples.safetensors: "input" [8, 4], "output" [8, 3]). Run from anywhere, with torch and
safetensors installed; the files are written beside this script:

    python3 examples/from_pytorch/make_state_dict.py
"""

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


class Classifier(nn.Module):
    """What `hidden: Linear(4, 16) -> Tanh -> output: Linear(16, 3)` declares in network!."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 16)
        self.output = nn.Linear(16, 3)

    def forward(self, x):
        return self.output(torch.tanh(self.hidden(x)))


def main():
    here = Path(__file__).resolve().parent
    torch.manual_seed(0)
    model = Classifier().eval()
    inputs = torch.randn(8, 4)
    with torch.no_grad():
        outputs = model(inputs)
    # state_dict() holds hidden.weight [16, 4], hidden.bias [16], output.weight [3, 16] and
    # output.bias [3]: the names and layouts network! gives the labelled layers.
    save_file(model.state_dict(), str(here / "state_dict.safetensors"))
    save_file(
        {"input": inputs.contiguous(), "output": outputs.contiguous()},
        str(here / "samples.safetensors"),
    )
    print(f"torch {torch.__version__}: wrote state_dict.safetensors and samples.safetensors")


if __name__ == "__main__":
    main()
