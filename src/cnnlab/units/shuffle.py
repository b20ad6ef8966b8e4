"""Channel shuffle (ShuffleNet, Zhang et al. 2018, Sec. 3.1 and Fig. 1)."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_divisible, require_positive
from cnnlab.errors import ConfigError

__all__ = ["channel_shuffle", "ChannelShuffle"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups so the next group conv sees every group.

    With ``C = groups * m`` channels: reshape to ``(groups, m)``, transpose to ``(m, groups)``, flatten;
    output channel ``i * groups + g`` is input channel ``g * m + i``.
    """
    where = f"channel_shuffle(groups={groups})"
    groups = require_positive("groups", groups, where)
    if x.dim() < 2:
        raise ConfigError(f"{where}: input must have a channel dimension (N, C, ...), got shape {tuple(x.shape)}")
    batch, channels, *spatial = x.shape
    require_divisible("channels", channels, "groups", groups, where)
    per_group = channels // groups
    x = x.reshape(batch, groups, per_group, *spatial).transpose(1, 2)
    return x.reshape(batch, channels, *spatial)


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle`.

    ``channels`` (optional) lets the module reject a channel count that ``groups`` does not divide
    at construction; otherwise the check happens on the first forward.
    """

    def __init__(self, groups: int, channels: int | None = None) -> None:
        where = f"ChannelShuffle(groups={groups})"
        groups = require_positive("groups", groups, where)
        if channels is not None:
            require_divisible("channels", require_positive("channels", channels, where), "groups", groups, where)
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
