"""The memory layout of a CPU training run, chosen by a rule on the network, never by a clock.

The layout changes the rounding of every convolution. cnnlab used to time a few steps in both
layouts and take the faster; whenever timing noise flipped that choice, the same seed gave other
numbers (one genotype scored 0.9236, 0.9236 and 0.9514 in three calls; two identical comparisons
gave resnet18 94.71 % and 94.99 %). The default is now a rule that reads only the network:
**channels_last when the model has a 2-D convolution and is fed 4-D image batches, NCHW otherwise**
— the same choice on every machine, in every run and every resume.

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

__all__ = ["LayoutChoice", "choose_channels_last"]


@dataclass(frozen=True)
class LayoutChoice:
    """``channels_last``: the chosen layout; ``reason``: one line for the run's log."""

    channels_last: bool
    reason: str


def choose_channels_last(model: nn.Module, images: torch.Tensor) -> LayoutChoice:
    """channels_last when ``model`` has an ``nn.Conv2d`` and ``images`` is a 4-D batch (see the module's
    docstring for the measurements behind the rule). Reads only the model's modules and the batch's shape."""
    if images.dim() != 4:
        return LayoutChoice(False, f"input is {images.dim()}-D, not an image batch: NCHW")
    if not any(isinstance(module, nn.Conv2d) for module in model.modules()):
        return LayoutChoice(False, "no 2-D convolution: NCHW")
    return LayoutChoice(True, "a convolutional network on CPU: channels_last (cnnlab.train.layout)")
