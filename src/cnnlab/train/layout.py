"""The memory layout of a CPU training run, chosen by a rule on the network, never by a clock.

The layout changes the rounding of every convolution. cnnlab used to time a few steps in both
layouts and take the faster; whenever timing noise flipped that choice, the same seed gave other
numbers (one genotype scored 0.9236, 0.9236 and 0.9514 in three calls; two identical comparisons
gave resnet18 94.71 % and 94.99 %). The default is now a rule that reads only the network:
**channels_last when the model has a 2-D convolution and is fed 4-D image batches, NCHW otherwise**
— the same choice on every machine, in every run and every resume.

One exception keeps NCHW: a **strided 1x1 ``nn.Conv2d`` with fewer than 16 input channels**. Its backward
pass in channels_last crashes the process in oneDNN (segmentation fault or abort, no Python error) in the
torch 2.14.1 CPU build of the README with one thread: ``nn.Conv2d(c, 32, 1, stride=2)`` on 4x16x16
channels_last inputs died for c = 2..7 (c = 1 too with a batch of 64) and passed for c = 8-10, 12, 15-17,
24, 32 (and for stride 1, stride 3 or kernel 3). Such convolutions appear in narrow networks (a NASNet or RandWire with a small C, a shortcut projection
of a thin stem); 16 is a margin above the largest failing count, and NCHW costs such small nets little.

Why channels_last: measured on the 2-core AMD EPYC of the README (AVX2, torch 2.14.1) with
``torch.set_num_threads(1)``, forward+backward of a batch of 64 grey 32x32 images (8x8 for digits-size
nets), 5 interleaved rounds, two runs: NCHW step time / channels_last step time.

| network | speedup of channels_last |
|---|---:|
| vgg11_bn | 1.29 |
| googlenet | 1.33, 1.33 |
| shufflenet_v1_g3 | 1.41, 1.29 |
| mobilenet_v2 | 1.07, 1.25 |
| resnet18 | 1.07, 1.16 |
| resnext50_32x4d | 1.02, 1.16 |
| resnet18_a | 1.11, 1.10 |
| mobilenet_v1 | 1.07, 1.06 |
| nasnet (C=8, N=1), 8x8 / 28x28 | 1.25 / 1.68 |
| randwire_tiny | 1.06 |
| the tests' two-conv net, 8x8 / 32x32 | 1.12 / 1.45 |

No network trained slower in channels_last; an earlier run with 2 threads on the same (shared) cores
measured MobileNetV2 4 % slower and the others 1.01-1.31x faster — the spread of such timings is why
the choice is no longer made by one. ``TrainConfig(channels_last=True/False)``
(``--channels-last/--no-channels-last``) overrides the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["MIN_SAFE_STRIDED_1X1_IN_CHANNELS", "LayoutChoice", "choose_channels_last"]


@dataclass(frozen=True)
class LayoutChoice:
    """``channels_last``: the chosen layout; ``reason``: one line for the run's log."""

    channels_last: bool
    reason: str


# a strided 1x1 convolution with fewer input channels than this crashes channels_last backward (oneDNN)
MIN_SAFE_STRIDED_1X1_IN_CHANNELS = 16


def _crashing_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    """The first strided 1x1 ``nn.Conv2d`` with fewer than 16 input channels (see the module's docstring)."""
    for name, module in model.named_modules():
        if (isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (1, 1) and max(module.stride) > 1
                and module.in_channels < MIN_SAFE_STRIDED_1X1_IN_CHANNELS):
            return name, module
    return None


def choose_channels_last(model: nn.Module, images: torch.Tensor) -> LayoutChoice:
    """channels_last when ``model`` has an ``nn.Conv2d`` and ``images`` is a 4-D batch (see the module's
    docstring for the measurements behind the rule), except NCHW when it has a strided 1x1 ``nn.Conv2d``
    with fewer than 16 input channels (its channels_last backward crashes in oneDNN). Reads only the model's
    modules and the batch's shape."""
    if images.dim() != 4:
        return LayoutChoice(False, f"input is {images.dim()}-D, not an image batch: NCHW")
    if not any(isinstance(module, nn.Conv2d) for module in model.modules()):
        return LayoutChoice(False, "no 2-D convolution: NCHW")
    crashing = _crashing_conv(model)
    if crashing is not None:
        name, conv = crashing
        return LayoutChoice(False, f"{name or 'the model'} is a strided 1x1 convolution of {conv.in_channels} "
                                   f"input channels (< {MIN_SAFE_STRIDED_1X1_IN_CHANNELS}), whose channels_last "
                                   "backward crashes in oneDNN: NCHW (cnnlab.train.layout)")
    return LayoutChoice(True, "a convolutional network on CPU: channels_last (cnnlab.train.layout)")
