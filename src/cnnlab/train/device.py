"""Device, mixed precision and memory layout chosen for a run."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from cnnlab.errors import ConfigError

__all__ = ["Runtime", "resolve_runtime"]


@dataclass(frozen=True)
class Runtime:
    """What :func:`resolve_runtime` decided: device, autocast dtype (None: off), GradScaler, layout."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    use_scaler: bool
    channels_last: bool

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Move a batch of images to the device, in the runtime's memory layout."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.use_scaler)


def _device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {name!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


def resolve_runtime(device: str, amp: str, channels_last: bool | None, local_rank: int = 0) -> Runtime:
    """Turn the config's "auto" choices into concrete ones for this machine."""
    dev = _device(device, local_rank)
    is_cuda = dev.type == "cuda"
    if amp == "fp16" and not is_cuda:
        raise ConfigError(f"amp='fp16' needs a CUDA device, but the run is on {dev}; use 'bf16' or 'off'")
    dtype = {
        "off": None,
        "auto": torch.float16 if is_cuda else None,
        "fp16": torch.float16,
        "bf16": torch.bfloat16,
    }[amp]
    # channels_last pays off where convolution kernels prefer NHWC: cuDNN (tensor cores, AMP). On CPU it
    # depends on the network: fit() measures it when the config leaves it open (cnnlab.train.layout).
    layout = is_cuda if channels_last is None else bool(channels_last)
    return Runtime(dev, dtype, use_scaler=dtype == torch.float16, channels_last=layout)
