"""Training: ``fit(model, bundle, config)`` with SGD/AdamW, cosine schedule, label smoothing, mixed
precision, per-epoch atomic checkpoints, exact resumption and DistributedDataParallel under
``torchrun``; ``evaluate(model, loader)`` for accuracy.
"""

from __future__ import annotations

from cnnlab.train.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.train.config import TrainConfig
from cnnlab.train.evaluate import evaluate, evaluate_metrics
from cnnlab.train.fit import fit
from cnnlab.train.result import TrainResult

__all__ = [
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "evaluate_metrics",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
