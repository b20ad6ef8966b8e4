"""Effective receptive fields for the page: :func:`cnnlab.analysis.effective_rf.effective_receptive_field`
(Luo et al., NIPS 2016) of the centre unit at each stage end, on the page's own picture, as red heatmaps.

Bounded on purpose: one forward and one backward per stage end on one image, so a page of resnet152 costs
seconds, not minutes. The picture is normalised with ImageNet's mean and std (torchvision's
``transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])``; 0.5 / 0.5 for one channel).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from torch import nn

__all__ = ["effective_fields", "effective_records", "has_weights"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


def has_weights(model: nn.Module) -> bool:
    """Whether the model has real tensors (not built on the meta device), so it can run."""
    return not any(t.is_meta for t in (*model.parameters(), *model.buffers()))


def _tensor(picture: object, channels: int) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0)
    x = x.unsqueeze(-1) if x.dim() == 2 else x
    x = x.permute(2, 0, 1)[:channels]
    mean = torch.tensor(IMAGENET_MEAN[:channels] if channels == 3 else (0.5,) * channels).view(-1, 1, 1)
    std = torch.tensor(IMAGENET_STD[:channels] if channels == 3 else (0.5,) * channels).view(-1, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def effective_fields(model: nn.Module, picture: object, channels: int) -> dict:
    """``{module path: EffectiveField}`` of the stage ends, on ``picture`` (the letterboxed PIL image)."""
    from cnnlab.analysis.effective_rf import effective_receptive_field

    return effective_receptive_field(model, _tensor(picture, channels), units="stages")


def _png(heatmap: np.ndarray) -> str:
    from PIL import Image

    positive = heatmap[heatmap > 0]
    top = float(np.percentile(positive, 99)) if positive.size else 0.0  # not the max: one speckle would rule
    level = np.clip(heatmap / top, 0, 1) if top > 0 else np.zeros_like(heatmap)
    rgba = np.zeros((*heatmap.shape, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 230, 20, 20
    rgba[..., 3] = (np.sqrt(level) * 235).astype(np.uint8)  # sqrt: the tails show too
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def effective_records(fields: dict, weights: str) -> dict:
    """The page's ``effective`` entry: per module path its heatmap as a transparent red PNG (opacity: the
    square root of the gradient magnitude over its 99th percentile), the centre
    unit, the 95 % square's side; and a note saying what was computed."""
    by_path = {path: {"png": _png(np.asarray(f.heatmap, dtype=np.float64)), "unit": list(f.unit),
                      "centre": [float(c) for c in f.centre], "side": None if f.side is None else float(f.side),
                      "r": f.r, "mass": f.mass, "images": f.images, "mode": f.mode}
               for path, f in fields.items()}
    mode = next(iter(fields.values())).mode if fields else "eval"
    note = (f"Effective fields (Luo et al. 2016; red: mean |input gradient| of the centre unit, opacity its square root "
            f"scaled to the 99th percentile) were computed for "
            f"the {len(by_path)} stage ends only ({', '.join(by_path)}: click one), on this picture, with {weights}, "
            f"in {mode} mode.")
    return {"note": note, "by_path": by_path}
