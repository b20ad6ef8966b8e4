"""Whether a search's child fits before it trains: its parameters, MACs and training memory come
for free from :func:`cnnlab.inspect` on a network built on the meta device (nothing allocated).

Limits (a child beyond them is refused, before the search starts for its first architecture and
before training for every later one):
- training memory ≤ the memory available on the training device (free RAM, the cgroup's limit
  included; free CUDA memory on a GPU): ``ACTIVATION_FACTOR`` × the activations of one batch (what
  autograd keeps for the backward pass, and the backward pass's working space) plus
  ``WEIGHT_COPIES`` float32 copies of the weights;
- at most ``MAX_CHILD_PARAMS`` parameters and ``MAX_CHILD_MACS`` multiply-accumulates per image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["MAX_CHILD_PARAMS", "MAX_CHILD_MACS", "WEIGHT_COPIES", "ACTIVATION_FACTOR", "ChildCost", "ChildTooLarge", "child_cost",
           "available_memory_bytes", "too_large"]

MAX_CHILD_PARAMS = 200_000_000  # the zoo's largest network, vgg19_bn, has 143.7M; NASNet-A Large 88.9M
MAX_CHILD_MACS = 100_000_000_000  # per image: 25x ResNet-50 at 224x224 (4.1 G), on 8x8 … 32x32 images
WEIGHT_COPIES = 4  # weights, gradients and up to two optimizer buffers (SGD momentum; Adam's moments)
# peak RSS growth of two SGD steps on NASNet children (C=16 N=1 batch 64; C=32 N=2 batch 128, 28x28)
# measured 1.32x and 1.12x their activations; 1.5 leaves room for the allocator
ACTIVATION_FACTOR = 1.5


class ChildTooLarge(RuntimeError):
    """A child that would not fit: a failed trial (the search goes on with the next one)."""


@dataclass(frozen=True)
class ChildCost:
    params: int
    macs: int  # per image
    batch_size: int
    activation_bytes: int  # of one training batch
    train_bytes: int  # ACTIVATION_FACTOR x activation_bytes + WEIGHT_COPIES x 4 bytes x params

    def describe(self) -> str:
        return (f"{self.params:,} params, {self.macs / 1e6:,.1f} MMACs per image, about "
                f"{_gib(self.train_bytes)} to train a batch of {self.batch_size}")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def child_cost(genotype: dict[str, Any], num_classes: int, in_chans: int, image_size: tuple[int, int],
               C: int, N: int, batch_size: int) -> ChildCost:
    """Costs of the child network of ``genotype`` for a batch of ``batch_size`` images."""
    from cnnlab.analysis import inspect
    from cnnlab.nas.spaces import build_network

    with torch.device("meta"):
        model = build_network(genotype, num_classes=num_classes, in_chans=in_chans, C=C, N=N)
    report = inspect(model, (batch_size, in_chans, *image_size))
    activations, params = int(report.activation_bytes), int(report.params)
    return ChildCost(params, int(report.macs) // batch_size, batch_size, activations,
                     int(ACTIVATION_FACTOR * activations) + WEIGHT_COPIES * 4 * params)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory_bytes(device: torch.device) -> int | None:
    """Free memory for training on ``device``: CUDA's free memory, or the smallest of the kernel's
    MemAvailable and the cgroup's room (limit minus usage); None when it cannot be told."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    room: list[int] = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    room.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            room.append(max(limit - usage, 0))
    if not room and hasattr(os, "sysconf"):
        try:
            room.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(room) if room else None


def too_large(cost: ChildCost, available_bytes: int | None) -> str | None:
    """Why the child cannot be trained here, or None when it fits."""
    if cost.params > MAX_CHILD_PARAMS:
        return f"the child has {cost.params:,} parameters, more than the limit of {MAX_CHILD_PARAMS:,}"
    if cost.macs > MAX_CHILD_MACS:
        return f"the child needs {cost.macs:,} MACs per image, more than the limit of {MAX_CHILD_MACS:,}"
    if available_bytes is not None and cost.train_bytes > available_bytes:
        return (f"training the child needs about {_gib(cost.train_bytes)} ({ACTIVATION_FACTOR} x the "
                f"activations of a batch of {cost.batch_size}, {_gib(cost.activation_bytes)}, and {WEIGHT_COPIES} "
                f"copies of {cost.params:,} weights), more than the {_gib(available_bytes)} available")
    return None
