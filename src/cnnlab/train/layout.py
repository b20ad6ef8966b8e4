"""The memory layout of a CPU training run, chosen by measuring it: channels_last where it is faster.

On CUDA, channels_last is the known win (cuDNN's NHWC kernels), so ``TrainConfig(channels_last=None)``
turns it on there without measuring. On CPU it depends on the network and the machine: on a 2-core
AVX2 machine, oneDNN's NHWC convolutions made ResNet-18 1.1-1.2x faster per training step, and
MobileNetV2's forward+backward about 4% slower. So, for a CPU run with ``channels_last=None``, :func:`choose_channels_last` times a
few forward+backward steps of copies of the model on a real batch, in both layouts, and picks the
faster one. The choice is stored in the checkpoint so that a resumed run keeps it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.timing import interleaved_median_seconds, median_seconds

__all__ = ["LayoutChoice", "choose_channels_last"]

# A step shorter than this is dominated by overheads, not by convolutions: not worth measuring
# (and too short to measure reliably). Tiny networks therefore stay in the default layout.
MIN_STEP_SECONDS = 0.05
# channels_last must be at least this much faster per step to be chosen.
MIN_SPEEDUP = 1.05


@dataclass(frozen=True)
class LayoutChoice:
    """``channels_last``: the chosen layout; ``speedup``: NCHW step time / NHWC step time (None if not
    measured); ``reason``: one line for the run's log."""

    channels_last: bool
    speedup: float | None
    reason: str


def _step(model: nn.Module, images: torch.Tensor):
    def run() -> None:
        model.zero_grad(set_to_none=True)
        output = model(images)
        (output if isinstance(output, torch.Tensor) else output[0]).float().sum().backward()

    return run


def choose_channels_last(
    model: nn.Module, images: torch.Tensor, rounds: int = 3, min_step_seconds: float = MIN_STEP_SECONDS,
    min_speedup: float = MIN_SPEEDUP,
) -> LayoutChoice:
    """Time forward+backward steps of copies of ``model`` (train mode) on ``images`` in NCHW and in
    channels_last, interleaved; choose channels_last if it is ``min_speedup`` times faster.

    The model itself, its gradients and the global random state are left as they were.
    """
    if images.dim() != 4:
        return LayoutChoice(False, None, f"input is {images.dim()}-D, not an image batch: NCHW kept")
    with torch.random.fork_rng():
        nchw = copy.deepcopy(model).train()
        step = median_seconds(_step(nchw, images), repeats=1, warmup=1, inference=False)
        if step < min_step_seconds:
            return LayoutChoice(False, None, f"a step takes {1e3 * step:.0f} ms, too short to gain: NCHW kept")
        nhwc = copy.deepcopy(model).train().to(memory_format=torch.channels_last)
        candidates = {
            "nchw": _step(nchw, images),
            "channels_last": _step(nhwc, images.contiguous(memory_format=torch.channels_last)),
        }
        seconds = interleaved_median_seconds(candidates, repeats=rounds, warmup=1, inference=False)
    speedup = seconds["nchw"] / seconds["channels_last"]
    chosen = speedup >= min_speedup
    verdict = "channels_last chosen" if chosen else "NCHW kept"
    return LayoutChoice(chosen, speedup, f"channels_last measured {speedup:.2f}x per training step: {verdict}")
