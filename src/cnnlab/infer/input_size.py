"""Input sizes for export: ``(N, C, H, W)`` tuples, or text like ``1x3x224x224`` from the command line,
checked against what a model can take (how many numbers, how many channels)."""

from __future__ import annotations

import math

from torch import nn
from torch.nn.modules.conv import _ConvNd

from cnnlab.arith.checks import require_shape
from cnnlab.errors import ConfigError

__all__ = ["MAX_INPUT_BYTES", "check_input_for", "check_input_size", "example_input_size", "parse_input_size"]

# torch computes a tensor's size in bytes as a signed 64-bit integer ("Storage size calculation overflowed"
# past it), even for meta tensors; a float32 input must stay below this.
MAX_INPUT_BYTES = 2**63 - 1
_FLOAT32_BYTES = 4
_LAYOUTS = {3: "N x C x L", 4: "N x C x H x W", 5: "N x C x D x H x W"}


def _text(size: tuple[int, ...]) -> str:
    return "x".join(map(str, size))


def _addressable(size: tuple[int, ...], where: str) -> tuple[int, ...]:
    if math.prod(size) * _FLOAT32_BYTES > MAX_INPUT_BYTES:
        raise ConfigError(f"{where} {_text(size)} is a tensor of {math.prod(size):.3g} elements, more than torch "
                          f"can address (2**63 bytes); give a smaller input size")
    return size


def check_input_size(input_size: object, where: str = "input_size") -> tuple[int, ...]:
    """A tuple of ≥ 2 positive ints (batch, channels, spatial...) a float32 tensor can have; ConfigError
    otherwise."""
    return _addressable(require_shape(where, input_size, min_dims=2, text=False), where)


def parse_input_size(text: str, where: str = "--input") -> tuple[int, ...]:
    """``"1x3x224x224"`` -> ``(1, 3, 224, 224)``."""
    if isinstance(text, str) and not all(p.strip().isdecimal() for p in text.lower().split("x")):
        # str.isdigit() also passes digits int() cannot read ('²'), so the text is checked here first
        raise ConfigError(f"{where} must look like 1x3x224x224 (positive ints joined by 'x'), got {text!r}")
    return _addressable(require_shape(where, text, min_dims=2), where)


def _conv_dims(model: nn.Module) -> int | None:
    """The spatial dimensions of every convolution in ``model`` (2 for Conv2d), None if none or mixed."""
    dims = {len(m.kernel_size) for m in model.modules() if isinstance(m, _ConvNd)}
    return dims.pop() if len(dims) == 1 else None


def _in_chans(model: nn.Module) -> int | None:
    value = getattr(model, "in_chans", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def example_input_size(model: nn.Module, spatial: int | tuple[int, ...] = 224) -> tuple[int, ...]:
    """A batch-1 input size for ``model``: its ``in_chans`` (else 3) and ``spatial`` per spatial axis."""
    dims = _conv_dims(model) or 2
    sides = (spatial,) * dims if isinstance(spatial, int) else tuple(spatial)
    return (1, _in_chans(model) or 3, *sides)


def check_input_for(model: nn.Module, size: tuple[int, ...], where: str = "--input",
                    name: str | None = None) -> tuple[int, ...]:
    """``size`` if ``model`` can take it: as many numbers as its convolutions need (N x C x H x W, 4 numbers,
    for a 2-D network) and the channels it declares (``in_chans``); a ConfigError saying which otherwise."""
    name = name or type(model).__name__
    dims = _conv_dims(model)
    if dims is not None and len(size) != dims + 2:
        layout = _LAYOUTS.get(dims + 2, f"N x C and {dims} spatial sizes")
        raise ConfigError(
            f"{where} {_text(size)} has {len(size)} numbers, but {name} is a {dims}-D network: the shape needs "
            f"{layout}, {dims + 2} numbers, e.g. {_text(example_input_size(model))}"
        )
    in_chans = _in_chans(model)
    if in_chans is not None and len(size) > 1 and size[1] != in_chans:
        raise ConfigError(
            f"{where} {_text(size)} has {size[1]} channel(s), but {name} takes {in_chans} input channel(s), "
            f"e.g. {_text((size[0], in_chans, *size[2:]))}"
        )
    return size
