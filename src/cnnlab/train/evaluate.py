"""Accuracy and mean loss of a model over a loader (sharded and summed over processes under DDP)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
from torch import nn

from cnnlab.train.device import Runtime
from cnnlab.train.distributed import DistContext, all_reduce_sum

__all__ = ["FlipTTA", "evaluate", "evaluate_metrics", "evaluation_model"]


class FlipTTA(nn.Module):
    """Flip test-time augmentation: the mean of the logits of each image and of its horizontal mirror
    (as airbench evaluates; Krizhevsky et al. 2012 averaged over flips too). Two forward passes."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(images) + self.net(images.flip(-1)))


def evaluation_model(model: nn.Module, ema, config) -> nn.Module:  # noqa: ANN001 - WeightEma | None, TrainConfig
    """What a run evaluates (and recomputes BatchNorm statistics of): the EMA of the weights when there is
    one, else the model; wrapped in :class:`FlipTTA` when ``config.tta_flip``. Under flip TTA, the BatchNorm
    recomputation sees every batch in both orientations."""
    evaluated = model if ema is None else ema.module
    return FlipTTA(evaluated) if getattr(config, "tta_flip", False) else evaluated


def _model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate_metrics(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    runtime: Runtime | None = None,
    ctx: DistContext | None = None,
) -> dict[str, float]:
    """``{"loss", "acc", "count"}``: mean cross-entropy, top-1 accuracy, number of samples."""
    device = runtime.device if runtime else _model_device(model)
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    try:
        for images, labels in loader:
            images = runtime.prepare(images) if runtime else images.to(device)
            labels = labels.to(device, non_blocking=True)
            with runtime.autocast() if runtime else contextlib.nullcontext():
                logits = model(images)
            loss = nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
            totals += torch.stack([
                loss.double(), (logits.argmax(1) == labels).sum().double(),
                torch.tensor(labels.numel(), dtype=torch.float64, device=device),
            ])  # fmt: skip
    finally:
        model.train(was_training)
    if ctx is not None:
        totals = all_reduce_sum(totals, ctx)
    loss_sum, correct, count = totals.tolist()
    return {
        "loss": loss_sum / count if count else float("nan"),
        "acc": correct / count if count else float("nan"),
        "count": int(count),
    }


def evaluate(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Top-1 accuracy of ``model`` on ``loader``, in full precision on the model's device."""
    return evaluate_metrics(model, loader)["acc"]
