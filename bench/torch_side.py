"""The PyTorch side of `bench/compare.sh`: the same workloads as `examples/compare.rs`, timed the
same way (median of many steps after warm-up), printed as one JSON object per line.

Run by the comparison; installs nothing. Needs `pip install torch`.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def median_us(step, warmup, repeats, inner):
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            step()
        samples.append((time.perf_counter() - start) / inner * 1e6)
    return statistics.median(samples)


def mlp(widths, final=None):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def train_workload(name, widths, batch, loss_fn, lr, final, targets, threads):
    best = None
    for fused in (False, True):
        torch.manual_seed(0)
        model = mlp(widths, final)
        x = torch.rand(batch, widths[0])
        y = targets(batch)
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        us = median_us(step, 50, 30, 20 if widths[0] < 500 else 5)
        if best is None or us < best[0]:
            best = (us, fused)
    print(json.dumps({"name": name, "threads": threads, "us": best[0], "fused_adam": best[1]}))


def mnist1d_workloads(threads):
    """MNIST-1D's ConvBase and MLPBase (`bench/mnist1d_torch.py`): a training step of Adam and
    CrossEntropyLoss on 100 random rows, and ConvBase's inference on one."""
    from mnist1d_torch import ConvBase, MLPBase

    for name, model_class in (("mnist1d_conv_train", ConvBase), ("mnist1d_mlp_train", MLPBase)):
        torch.manual_seed(0)
        model = model_class()
        x = torch.rand(100, 40)
        y = torch.randint(0, 10, (100,))
        loss_fn = nn.CrossEntropyLoss()
        best = None
        for fused in (False, True):
            opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=fused)

            def step():
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()

            us = median_us(step, 50, 31, 20)
            best = us if best is None else min(best, us)
        print(json.dumps({"name": name, "threads": threads, "us": best}))
    torch.manual_seed(0)
    model = ConvBase()
    one = torch.rand(1, 40)
    with torch.no_grad():
        us = median_us(lambda: model(one), 500, 31, 500)
    print(json.dumps({"name": "mnist1d_conv_infer_b1", "threads": threads, "us": us}))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def block():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def image_workloads(threads):
    """LeNet on 28×28 images (training at batch 64, inference at batch 1) and the
    convolutional `Block` on 3×32×32 (training at batch 64), Adam and CrossEntropyLoss."""
    for name, build, shape, inner in (
        ("lenet_train", lenet, (1, 28, 28), 10),
        ("block_train", block, (3, 32, 32), 2),
    ):
        torch.manual_seed(0)
        model = build()
        x = torch.rand(64, *shape)
        y = torch.randint(0, 10, (64,))
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        us = median_us(step, 5, 11 if inner > 2 else 5, inner)
        print(json.dumps({"name": name, "threads": threads, "us": us}))
    torch.manual_seed(0)
    model = lenet().eval()
    one = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        us = median_us(lambda: model(one), 200, 31, 200)
    print(json.dumps({"name": "lenet_infer_b1", "threads": threads, "us": us}))


def large_train_memory():
    """Trains large_train alone and prints the process's peak memory in KiB."""
    import resource

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = mlp([784, 512, 256, 10])
    x = torch.rand(128, 784)
    y = torch.randint(0, 10, (128,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(20):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main():
    if "--large-train-memory" in sys.argv:
        return large_train_memory()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        a = torch.rand(1024, 1024)
        b = torch.rand(1024, 1024)
        us = median_us(lambda: torch.mm(a, b), 3, 15, 2)
        print(json.dumps({"name": "matmul_peak", "threads": threads, "gflops": 2 * 1024**3 / us / 1e3}))

        with torch.no_grad():
            torch.manual_seed(0)
            model = mlp([64, 128, 2], nn.Sigmoid())
            for batch in (1, 32):
                x = torch.rand(batch, 64)
                us = median_us(lambda: model(x), 200, 30, 200)
                print(json.dumps({"name": f"seed_infer_b{batch}", "threads": threads, "us": us}))

        binary = lambda n: torch.randint(0, 2, (n, 2)).float()
        classes = lambda n: torch.randint(0, 10, (n,))
        train_workload("seed_train", [64, 128, 2], 32, nn.BCELoss(), 0.01, nn.Sigmoid(), binary, threads)
        train_workload("digits_train", [64, 128, 10], 64, nn.CrossEntropyLoss(), 1e-3, None, classes, threads)
        train_workload("large_train", [784, 512, 256, 10], 128, nn.CrossEntropyLoss(), 1e-3, None, classes, threads)
        mnist1d_workloads(threads)
        image_workloads(threads)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
