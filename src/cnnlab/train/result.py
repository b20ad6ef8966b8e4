"""``TrainResult``: what a finished :func:`cnnlab.train.fit` call reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """``history``: one dict per epoch (``epoch``, ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``, ``lr``, ``images_per_second``, ``train_seconds``, ``train_cpu_seconds``,
    ``epoch_seconds``). The test split is evaluated once, after the last
    epoch. ``images_per_second``: median training throughput over the
    epochs, all processes together. Accuracies are fractions in [0, 1]; ``best_val_acc`` is None
    without a validation split. ``channels_last``: the memory layout the run used.
    """

    history: list[dict[str, Any]]
    best_val_acc: float | None
    best_epoch: int | None
    test_acc: float | None
    test_loss: float | None
    images_per_second: float
    epochs: int
    seconds: float
    config: dict[str, Any]
    device: str
    world_size: int = 1
    channels_last: bool | None = None
    out_dir: str | None = None
    checkpoint_path: str | None = None
    resumed_epochs: int = 0  # epochs read back from the run folder's checkpoint (0: trained from scratch)

    @property
    def already_finished(self) -> bool:
        """True when the run folder held this run finished: nothing was trained by this call."""
        return self.resumed_epochs > 0 and self.resumed_epochs == self.epochs

    @property
    def final_val_acc(self) -> float | None:
        return self.history[-1].get("val_acc") if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
