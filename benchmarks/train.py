"""Training throughput: cnnlab's trainer vs a bare PyTorch loop, and cnnlab's ResNet-18 vs torchvision's.

    python benchmarks/train.py [--quick] [--threads N]

ResNet-18 (10 classes) on Fashion-MNIST padded to 32x32 and repeated to 3 channels (digits resized to
32x32 when Fashion-MNIST is not installed). Each variant trains one epoch of the same batches per round
from the same initial weights, with SGD (momentum 0.9, weight decay) and a per-step cosine schedule; the
variants are timed in turn within each round (in balanced orders: each variant first, and right after each other one, equally often) after a warm-up
round, and images/second is the median over rounds of the training loop's time alone (no evaluation).
The bare loop gets batches already on the device as float tensors; the trainer builds them from uint8
storage on the fly. The trainer runs NCHW like the bare loop, plus one variant with channels_last and
one that leaves the layout to fit's measurement (the default). Writes benchmarks/results/train.md
(``--quick``: train_quick.md).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

import cnnlab
from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.timing import balanced_orders
from cnnlab.train import TrainConfig, fit
from common import add_common_args, machine_info_markdown, markdown_table, pin_threads, write_markdown

FULL = {"batch_size": 128, "batches": 24, "rounds": 5}
QUICK = {"batch_size": 32, "batches": 4, "rounds": 2}
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4
BARE, TRAINER = "bare loop, cnnlab resnet18", "cnnlab.train.fit, cnnlab resnet18"
BARE_TV, TRAINER_TV = "bare loop, torchvision resnet18", "cnnlab.train.fit, torchvision resnet18"
TRAINER_CL = "cnnlab.train.fit, cnnlab resnet18, channels_last"
TRAINER_DEFAULT = "cnnlab.train.fit, cnnlab resnet18, default layout (channels_last by rule)"
MEASURED_LAYOUTS: list[bool] = []  # what fit chose for TRAINER_DEFAULT, run by run (warm-up included)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_bundle(cfg: dict):
    limit = cfg["batch_size"] * cfg["batches"]
    for name in ("fashion-mnist", "digits"):
        try:
            return make_loaders(name, cfg["batch_size"], val_fraction=0.0, limit_train=limit,
                                limit_test=cfg["batch_size"], image_size=32, in_chans=3)  # fmt: skip
        except ConfigError as exc:
            log(f"  {name} unavailable ({str(exc)[:80]}...)")
    raise SystemExit("no dataset available for the training benchmark")


def bare_loop(model: nn.Module, batches: list, epochs: int = 1) -> tuple[float, float]:
    """The textbook loop; images per wall-clock second and per CPU second of its last epoch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(batches))
    criterion = nn.CrossEntropyLoss()
    model.train()
    rates = (0.0, 0.0)
    for _ in range(epochs):
        start, cpu_start, images_seen = time.perf_counter(), time.process_time(), 0
        for images, labels in batches:
            loss = criterion(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            images_seen += len(labels)
        rates = (images_seen / (time.perf_counter() - start), images_seen / (time.process_time() - cpu_start))
    return rates


def trainer(model: nn.Module, bundle, channels_last: bool | None = False) -> tuple[float, float]:
    """The trainer's throughput; NCHW unless told otherwise, like the bare loop (None: fit measures it)."""
    config = TrainConfig(epochs=1, batch_size=bundle.train.batch_size, lr=LR, momentum=MOMENTUM,
                         weight_decay=WEIGHT_DECAY, channels_last=channels_last, device="cpu")  # fmt: skip
    result = fit(model, bundle, config, progress=False)
    if channels_last is None:
        MEASURED_LAYOUTS.append(result.channels_last)
    epoch = result.history[-1]
    images = epoch["images_per_second"] * epoch["train_seconds"]
    return epoch["images_per_second"], images / epoch["train_cpu_seconds"]


def variants(bundle, batches) -> dict[str, Callable[[], tuple[float, float]]]:
    torch.manual_seed(0)
    ours = cnnlab.create_model("resnet18", num_classes=10)
    theirs = torchvision.models.resnet18(num_classes=10)
    if list(ours.state_dict()) == list(theirs.state_dict()):  # same function, not only the same architecture
        theirs.load_state_dict(ours.state_dict())
    fresh = copy.deepcopy
    return {
        BARE: lambda: bare_loop(fresh(ours), batches),
        TRAINER: lambda: trainer(fresh(ours), bundle),
        TRAINER_CL: lambda: trainer(fresh(ours), bundle, True),
        TRAINER_DEFAULT: lambda: trainer(fresh(ours), bundle, None),
        BARE_TV: lambda: bare_loop(fresh(theirs), batches),
        TRAINER_TV: lambda: trainer(fresh(theirs), bundle),
    }


def measure(fns: dict[str, Callable[[], tuple[float, float]]], rounds: int) -> dict[str, list[tuple[float, float]]]:
    for name, fn in fns.items():  # warm-up round: allocator, oneDNN primitive caches
        log(f"  warm-up {name}")
        fn()
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    names = list(fns)
    orders = balanced_orders(len(names))  # no variant always runs first or right after the same one
    for r in range(rounds):
        for name in (names[i] for i in orders[r % len(orders)]):
            rates[name].append(fns[name]())
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{v[-1][0]:.0f}/{v[-1][1]:.0f}" for v in rates.values()))
    return rates


def _target_rows(wall: dict[str, float], cpu: dict[str, float]) -> list[list[str]]:
    pairs = [("trainer / bare loop (cnnlab resnet18)", TRAINER, BARE),
             ("trainer / bare loop (torchvision resnet18)", TRAINER_TV, BARE_TV),
             ("cnnlab resnet18 / torchvision resnet18 (bare loop)", BARE, BARE_TV),
             ("trainer, default layout / trainer, NCHW (cnnlab resnet18)", TRAINER_DEFAULT, TRAINER)]  # fmt: skip
    rows = []
    for label, top, bottom in pairs:
        by_wall, by_cpu = wall[top] / wall[bottom], cpu[top] / cpu[bottom]
        rows.append([label, "≥ 0.95", f"{by_wall:.3f}", f"{by_cpu:.3f}", "met" if by_wall >= 0.95 else "missed",
                     "met" if by_cpu >= 0.95 else "missed"])  # fmt: skip
    return rows


def render(rates: dict[str, list[tuple[float, float]]], cfg: dict, bundle, quick: bool) -> str:
    wall = {name: statistics.median(r[0] for r in v) for name, v in rates.items()}
    cpu = {name: statistics.median(r[1] for r in v) for name, v in rates.items()}
    rows = [[name, f"{wall[name]:,.1f}", f"{wall[name] / wall[BARE]:.3f}", f"{cpu[name]:,.1f}",
             f"{cpu[name] / cpu[BARE]:.3f}", " ".join(f"{r[0]:.0f}" for r in rates[name])]
            for name in rates]  # fmt: skip
    command = "python benchmarks/train.py" + (" --quick" if quick else "")
    parts = [
        "# Training throughput: cnnlab trainer vs bare PyTorch loop vs torchvision",
        f"Made by `{command}`. {bundle.name}, {len(bundle.train.dataset)} images per epoch at 32x32x3, "
        f"batch {cfg['batch_size']}, SGD + cosine; median over {cfg['rounds']} rounds after a warm-up round, "
        "variants timed in turn within each round, in balanced orders (cnnlab.timing.balanced_orders). Images per wall-clock second, and per CPU second of the "
        "process (steadier when other jobs share the cores). x bare = relative to the bare loop on "
        "cnnlab's resnet18 (higher is faster).",
        machine_info_markdown(),
    ]
    if quick:
        parts.append("**Quick smoke run**: few batches and rounds; the ratios are only indicative.")
    parts += [
        "## Images per second",
        markdown_table(["variant", "img/s (wall)", "x bare", "img/CPU-s", "x bare (CPU)", "per round (wall)"], rows),
        f"The default layout (channels_last=None) is a rule on the network (`cnnlab.train.layout`: channels_last "
        f"for a 2-D convolutional network fed image batches); it chose channels_last in {sum(MEASURED_LAYOUTS)} "
        f"of its {len(MEASURED_LAYOUTS)} runs (warm-up included).",
        "## Targets",
        markdown_table(["ratio", "target", "wall", "CPU time", "status (wall)", "status (CPU)"],
                       _target_rows(wall, cpu)),
    ]  # fmt: skip
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = add_common_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0])).parse_args(argv)
    cfg = QUICK if args.quick else FULL
    threads = pin_threads(args.threads)
    log(f"training benchmark: {threads} thread(s), {'quick' if args.quick else 'full'} run")
    bundle = load_bundle(cfg)
    bundle.train.set_epoch(1)
    batches = list(bundle.train)
    rates = measure(variants(bundle, batches), cfg["rounds"])
    path: Path = write_markdown("train_quick" if args.quick else "train", render(rates, cfg, bundle, args.quick))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
