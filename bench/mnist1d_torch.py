#!/usr/bin/env python3
"""The MNIST-1D baselines in PyTorch, trained by the data set's own loop, as the reference for the
same networks declared with `nn`.

The data is `examples/data/mnist1d/` (4000 training and 1000 test rows of 40 float32 values and
a label). The loop is the one of the data set's notebooks (`train.py`):

    criterion = CrossEntropyLoss(); optimizer = Adam(model.parameters(), lr=1e-2)
    for step in range(8000):
        bix = step * 100 % 4000                     # batches of 100, in order, no shuffling
        loss = criterion(model(x_train[bix:bix + 100]), y_train[bix:bix + 100])
        loss.backward(); optimizer.step(); optimizer.zero_grad()

after `torch.manual_seed(seed)` and PyTorch's default initialisation. (The notebooks write
`range(total_steps + 1)`, one step more; `--steps 8001` gives that.) The test accuracy is the
data set's: the argmax of the trained model's logits on the whole test set, in percent.

Models (the data set's `models.py`):

    logreg  Linear(40, 10)
    mlp     MLPBase: h = relu(linear1(x)); h = h + relu(linear2(h)); linear3(h)
            with linear1 = Linear(40, 100), linear2 = Linear(100, 100), linear3 = Linear(100, 10)
    cnn     ConvBase: x.view(-1, 1, 40); relu(conv1), relu(conv2), relu(conv3), flatten, linear
            with conv1 = Conv1d(1, 25, 5, stride=2, padding=1) (40 -> 19),
            conv2 = Conv1d(25, 25, 3, stride=2, padding=1) (19 -> 10),
            conv3 = Conv1d(25, 25, 3, stride=2, padding=1) (10 -> 5), linear = Linear(125, 10)

Needs `pip install torch numpy`. Run from anywhere:

    python3 bench/mnist1d_torch.py --threads 1
    python3 bench/mnist1d_torch.py --models cnn --seeds 0 1 --threads 2
    python3 bench/mnist1d_torch.py --timing-only

Prints one row per model and seed (final test accuracy, training seconds), then the mean per
model, then the time of one ConvBase training step at batch 100 and of one batch-1 inference,
with 1 and 2 threads (median over many repetitions after warm-up, µs).
"""

import argparse
import gzip
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from torch_side import median_us

DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "mnist1d"

LEARNING_RATE = 1e-2
BATCH = 100


class LinearBase(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(40, 10)

    def forward(self, x):
        return self.linear(x)


class MLPBase(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(40, 100)
        self.linear2 = nn.Linear(100, 100)
        self.linear3 = nn.Linear(100, 10)

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class ConvBase(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = nn.Linear(125, 10)

    def activations(self, x):
        """The activations after each relu, and the logits."""
        x = x.view(-1, 1, x.shape[-1])
        h1 = self.conv1(x).relu()
        h2 = self.conv2(h1).relu()
        h3 = self.conv3(h2).relu()
        return h1, h2, h3, self.linear(h3.view(h3.shape[0], -1))

    def forward(self, x):
        return self.activations(x)[-1]


MODELS = {"logreg": LinearBase, "mlp": MLPBase, "cnn": ConvBase}


def load(split):
    """The split's inputs [n, 40] float32 and labels [n] int64, rows in file order."""
    with gzip.open(DATA / f"mnist1d_{split}.csv.gz", "rt") as f:
        header = f.readline().strip().split(",")
        assert header == [f"x{i}" for i in range(40)] + ["label"], header
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    # Each value is the shortest decimal of a float32: through f64 it rounds back exactly.
    x = torch.from_numpy(rows[:, :40].astype(np.float32))
    y = torch.from_numpy(rows[:, 40].astype(np.int64))
    return x, y


def train(model, x_train, y_train, steps):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses = []
    for step in range(steps):
        bix = step * BATCH % len(x_train)
        x, y = x_train[bix : bix + BATCH], y_train[bix : bix + BATCH]
        loss = criterion(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return losses


def accuracy(model, x, y):
    with torch.no_grad():
        predictions = model(x).argmax(-1)
    return 100.0 * (predictions == y).sum().item() / len(y)


def time_cnn(x_train, y_train, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ConvBase()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x, y = x_train[:BATCH], y_train[:BATCH]

    def train_step():
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    train_us = median_us(train_step, 200, 31, 50)
    one = x_train[:1]
    with torch.no_grad():
        infer_us = median_us(lambda: model(one), 500, 31, 500)
    return train_us, infer_us


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads for training")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--no-timing", action="store_true", help="skip the ConvBase step timings")
    parser.add_argument("--timing-only", action="store_true", help="only the ConvBase step timings")
    args = parser.parse_args()

    x_train, y_train = load("train")
    x_test, y_test = load("test")
    print(
        f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.steps} steps, batch {BATCH}, Adam lr {LEARNING_RATE}, {args.threads} thread(s), "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    if not args.timing_only:
        torch.set_num_threads(args.threads)
        print(f"{'model':<8}{'seed':>5}{'test acc %':>12}{'final loss':>12}{'train s':>10}")
        results = {}
        for name in args.models:
            # Untimed warm-up (first-call set-up of the kernels), before the seed is set.
            train(MODELS[name](), x_train, y_train, 20)
            for seed in args.seeds:
                torch.manual_seed(seed)
                model = MODELS[name]()
                start = time.perf_counter()
                losses = train(model, x_train, y_train, args.steps)
                seconds = time.perf_counter() - start
                acc = accuracy(model, x_test, y_test)
                results.setdefault(name, []).append((acc, seconds))
                print(f"{name:<8}{seed:>5}{acc:>12.1f}{losses[-1]:>12.2e}{seconds:>10.2f}", flush=True)
        print(f"{'model':<8}{'seeds':>5}{'mean acc %':>12}{'std':>12}{'mean s':>10}")
        for name, rows in results.items():
            accs = [acc for acc, _ in rows]
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            seconds = statistics.mean(s for _, s in rows)
            print(f"{name:<8}{len(rows):>5}{statistics.mean(accs):>12.2f}{std:>12.2f}{seconds:>10.2f}")

    if not args.no_timing:
        print("ConvBase, median µs per call:")
        print(f"{'threads':>7}{'train step b100':>17}{'infer b1':>10}")
        for threads in (1, 2):
            train_us, infer_us = time_cnn(x_train, y_train, threads)
            print(f"{threads:>7}{train_us:>17.1f}{infer_us:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
