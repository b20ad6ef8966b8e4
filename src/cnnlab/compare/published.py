"""Published ImageNet-1K numbers (top-1, MACs, params at 224x224), each with its source.

The facts live in ``published.json`` next to this file: torchvision's weight metadata
(``<Model>_Weights.IMAGENET1K_V1.meta``) where torchvision ships the model, the paper otherwise
(MobileNet v1: Howard et al. 2017, Table 8). Models with no published ImageNet number (for example
the ScratchDet ResNet-18 variants, which the paper evaluates on PASCAL VOC only) have no entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["PublishedFacts", "all_published", "published_facts"]

FACTS_FILE = Path(__file__).with_name("published.json")


@dataclass(frozen=True)
class PublishedFacts:
    """One model's published ImageNet-1K numbers at 224x224."""

    model: str
    top1: float  # single-crop top-1 accuracy, percent
    macs: int  # multiply-accumulates of one 224x224 image
    params: int
    source: str


@lru_cache(maxsize=1)
def all_published() -> dict[str, PublishedFacts]:
    """Every entry of the facts table, by model name."""
    raw = json.loads(FACTS_FILE.read_text(encoding="utf-8"))["models"]
    return {
        name: PublishedFacts(
            model=name,
            top1=float(entry["top1"]),
            macs=int(entry["macs"]),
            params=int(entry["params"]),
            source=str(entry["source"]),
        )
        for name, entry in raw.items()
    }


def published_facts(model_name: str) -> PublishedFacts | None:
    """The published numbers of ``model_name``, or None when nothing is published for it."""
    return all_published().get(model_name)
