"""The effective receptive field (Luo, Li, Urtasun & Zemel, NIPS 2016, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks"): how strongly each input pixel moves a unit.

For a unit path (a module of the model) the centre unit of its output map is back-propagated with the
paper's seed — the gradient at the centre position set to 1 for every channel, 0 elsewhere, i.e. the
gradient of ``y[:, :, i, j].sum()`` — through the model's *real* weights to *real* images. The heatmap is
``mean over images of sum over input channels of |dy/dx|`` (an H x W array of the image's size). It is not
the theoretical field (:class:`cnnlab.analysis.ReceptiveField`: every pixel a path reaches, the box
:mod:`cnnlab.analysis.empirical` finds on a linearised positive copy); it is where the gradient's mass
lies, which the paper finds Gaussian-like, a fraction of the theoretical field, shrinking relative to it as
1/sqrt(depth) and growing with training.

Summaries per unit (pixel ``(h, w)`` spans ``[h, h + 1) x [w, w + 1)``; the centre ``c`` is the centre of
the unit's theoretical field, ``start + index * jump``):

- ``radius`` (at ``mass=0.95``): the half side of the smallest square of whole pixels centred on ``c``
  that holds at least 95 % of the heatmap's mass, i.e. the smallest ``d + 1/2`` such that the pixels with
  ``max(|h + 1/2 - c_h|, |w + 1/2 - c_w|) <= d`` hold 95 %. A square, so that ``2 * radius`` (``side``)
  compares with the theoretical ``r``, which is a square's side too; on a field fully inside the image the
  whole theoretical field gives ``radius = r / 2``.
- ``sigma``: per axis, the standard deviation of the heatmap's mass (a Gaussian fitted by its moments).
  For a stack of ``n`` 3x3 all-ones convolutions it is exactly ``sqrt(2 n / 3)`` (the paper's Sec. 2.2: the
  n-fold convolution of a uniform kernel; the offsets -1, 0, 1 have variance 2/3).

The model is copied (``copy.deepcopy``) and the copy put in eval mode (``mode="train"`` for train mode:
batch statistics then couple the images of a batch); the user's model is never touched — no parameter,
buffer, mode or hook of it changes. Pixels outside the image are not measured: a field larger than the
image is clipped by it (``radius`` then measures what the image holds).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cnnlab.analysis.render.report import ReceptiveField
from cnnlab.errors import ConfigError

__all__ = ["EffectiveField", "effective_receptive_field", "erf_heatmap", "mass_radius", "moment_sigma",
           "stage_units"]

MODES = ("eval", "train")
CHUNK = 16  # images per forward / backward pass


@dataclass(frozen=True)
class EffectiveField:
    """The effective field of the centre unit of one module's output map (see the module doc).

    ``heatmap``: (H, W) mean over images of the summed |gradient|; ``unit``: the (i, j) index of the centre
    unit in the ``feature_size`` map; ``centre``: its theoretical field's centre in input pixels;
    ``theory``: the theoretical field of the map (r, jump, start, box), None where the analysis has none.
    """

    path: str
    heatmap: np.ndarray
    unit: tuple[int, int]
    feature_size: tuple[int, int]
    centre: tuple[float, float]
    radius: float | None
    sigma: tuple[float, float] | None
    theory: ReceptiveField | None
    images: int
    mode: str
    mass: float = 0.95
    notes: tuple[str, ...] = field(default=())

    @property
    def side(self) -> float | None:
        """``2 * radius``: the side of the square holding ``mass`` of the gradient, comparable to ``r``."""
        return None if self.radius is None else 2 * self.radius

    @property
    def r(self) -> int | None:
        """The theoretical field's size r (the larger of the two axes), or None."""
        if self.theory is None or any(v is None for v in self.theory.size):
            return None
        return int(max(self.theory.size))

    @property
    def box(self) -> tuple[tuple[int, int] | None, ...] | None:
        """The centre unit's theoretical field, ((first, last) row, (first, last) column), inclusive; it
        may reach outside the image."""
        return None if self.theory is None else self.theory.box(self.unit)


def _distances(shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    rows = np.abs(np.arange(shape[0]) + 0.5 - centre[0])
    cols = np.abs(np.arange(shape[1]) + 0.5 - centre[1])
    return np.maximum(rows[:, None], cols[None, :])


def mass_radius(heatmap: np.ndarray, centre: tuple[float, float], mass: float = 0.95) -> float | None:
    """Half side of the smallest square of whole pixels centred on ``centre`` holding ``mass`` of the heatmap
    (the smallest ``d + 1/2`` with the pixels at Chebyshev distance ``<= d`` holding it); None if it is all 0."""
    heat = np.asarray(heatmap, dtype=np.float64)
    total = heat.sum()
    if not total > 0:
        return None
    d = _distances(heat.shape, centre).ravel()
    order = np.argsort(d, kind="stable")
    cumulative = np.cumsum(heat.ravel()[order])
    k = int(np.searchsorted(cumulative, mass * total * (1 - 1e-12)))
    return float(d[order][min(k, len(d) - 1)] + 0.5)


def moment_sigma(heatmap: np.ndarray) -> tuple[float, float] | None:
    """Per axis (rows, columns), the standard deviation of the heatmap's mass; None if it is all 0."""
    heat = np.asarray(heatmap, dtype=np.float64)
    total = heat.sum()
    if not total > 0:
        return None
    out = []
    for axis in (1, 0):
        marginal = heat.sum(axis) / total
        pos = np.arange(marginal.size) + 0.5
        mean = (marginal * pos).sum()
        out.append(float(np.sqrt((marginal * (pos - mean) ** 2).sum())))
    return out[0], out[1]


def _as_images(images: object) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ConfigError(f"images must be a tensor (N, C, H, W) or (C, H, W), got {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or min(images.shape) < 1:
        raise ConfigError(f"images must be a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ConfigError(f"images must be float (normalised as the model eats them), got {images.dtype}")
    if images.is_meta or not torch.isfinite(images).all():
        raise ConfigError("images must hold finite values")
    return images


def _first_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for v in value if (t := _first_tensor(v)) is not None), None)
    if isinstance(value, dict):
        return next((t for v in value.values() if (t := _first_tensor(v)) is not None), None)
    return None


def _feature_info_units(model: nn.Module) -> list[str] | None:
    modules = dict(model.named_modules())
    info = getattr(model, "feature_info", None)
    if isinstance(info, (list, tuple)):
        paths = [i.get("module") for i in info if isinstance(i, dict)]
        if paths and all(isinstance(p, str) and p in modules for p in paths):
            return paths
    return None


def stage_units(model: nn.Module) -> list[str]:
    """The default units before a forward: the modules ``feature_info`` names (cnnlab's and timm's stage
    ends), else every top-level child (narrowed to the last one of each output resolution once the
    forward has given their shapes)."""
    return _feature_info_units(model) or [name for name, _ in model.named_children()]


def _check_units(model: nn.Module, units: object) -> tuple[list[str], bool]:
    """(paths, whether to narrow them to the last top-level child of each resolution after the forward)."""
    if units is None or units == "stages":
        return stage_units(model), _feature_info_units(model) is None
    if isinstance(units, str):
        units = [units]
    if not isinstance(units, Sequence) or not units or not all(isinstance(u, str) for u in units):
        raise ConfigError(f"units must be None, 'stages' or a list of module paths, got {units!r}")
    modules = dict(model.named_modules())
    for path in units:
        if path not in modules or not path:
            known = ", ".join(list(p for p in modules if p)[:8])
            raise ConfigError(f"unit path {path!r} is not a module of {type(model).__name__} "
                              f"(its modules include {known}, ...)")
    return list(dict.fromkeys(units)), False


def _working_copy(model: nn.Module, mode: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ConfigError(f"effective_receptive_field needs an nn.Module, got {type(model).__name__}")
    if mode not in MODES:
        raise ConfigError(f"mode must be 'eval' or 'train', got {mode!r}")
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise ConfigError(f"{type(model).__name__} has no weights (built on the meta device); build it for real "
                          "or load a checkpoint")
    work = copy.deepcopy(model)
    work.train(mode == "train")
    for p in work.parameters():
        p.requires_grad_(False)
    return work


def _run(work: nn.Module, x: torch.Tensor, paths: list[str]) -> dict[str, torch.Tensor]:
    """Forward ``x`` through the copy; the last output of each module in ``paths``."""
    modules = dict(work.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def keep(path: str):  # noqa: ANN202 - a forward hook
        def hook(module: nn.Module, args: object, out: object) -> None:
            t = _first_tensor(out)
            if t is not None:
                outputs[path] = t
        return hook

    handles = [modules[p].register_forward_hook(keep(p)) for p in paths]
    try:
        work(x)
    except ConfigError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{type(work).__name__} cannot run on images of shape {tuple(x.shape)}: {reason}") from None
    finally:
        for h in handles:
            h.remove()
    return outputs


def _theory(work: nn.Module, size: tuple[int, ...], paths: list[str]) -> tuple[dict[str, ReceptiveField], str]:
    """The theoretical field of each path's output map, from inspect's walk (the last op in the module)."""
    from cnnlab.analysis.walk.fx import WalkFailed, walk_fx
    from cnnlab.analysis.walk.meta_copy import meta_copy, no_global_hooks

    args = (torch.empty(size, device="meta"),)
    try:
        with no_global_hooks():
            try:
                walk = walk_fx(meta_copy(work), args, {})
            except WalkFailed as fx_error:
                from cnnlab.analysis.walk.hooks import walk_hooks

                walk = walk_hooks(work, meta_copy(work), args, {}, reason=str(fx_error))
    except ConfigError as exc:
        return {}, f"no theoretical field: {exc}"
    found: dict[str, ReceptiveField] = {}
    for path in paths:
        inside = [s for s in walk.steps if s.field is not None and (s.path == path or s.path.startswith(path + "."))]
        if inside and len(inside[-1].field.sizes) == 2:
            found[path] = ReceptiveField.of(inside[-1].field, path)
    return found, ""


def _narrow(paths: list[str], outputs: dict[str, torch.Tensor]) -> list[str]:
    """Of top-level children, the last of each run with the same output resolution (the stage ends)."""
    maps = [p for p in paths if p in outputs and outputs[p].dim() == 4]
    return [p for p, nxt in zip(maps, [*maps[1:], None], strict=True)
            if nxt is None or outputs[nxt].shape[2:] != outputs[p].shape[2:]]


def _heatmaps(work: nn.Module, images: torch.Tensor, paths: list[str], narrow: bool) -> tuple[list[str], dict, dict]:
    """(paths, summed |gradient| per path (H, W), output shape per path) over all images."""
    sums: dict[str, torch.Tensor] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    device = next((p.device for p in work.parameters()), images.device)
    for start in range(0, images.shape[0], CHUNK):
        x = images[start:start + CHUNK].to(device).detach().clone().requires_grad_(True)
        with torch.enable_grad():
            outputs = _run(work, x, paths)
            if start == 0:
                if narrow:
                    paths = _narrow(paths, outputs)
                for p in paths:
                    y = outputs.get(p)
                    if y is None:
                        raise ConfigError(f"unit {p!r} did not run in the forward pass (or returned no tensor)")
                    if y.dim() != 4:
                        raise ConfigError(f"unit {p!r} gives shape {tuple(y.shape)}, not a 2-D feature map "
                                          "(N, C, H, W)")
                if not paths:
                    raise ConfigError(f"{type(work).__name__} has no module giving a 2-D feature map")
            for k, p in enumerate(paths):
                y = outputs[p]
                shapes[p] = tuple(y.shape)
                i, j = y.shape[2] // 2, y.shape[3] // 2
                seed = y[:, :, i, j].sum()
                grad = None
                if seed.requires_grad:
                    grad = torch.autograd.grad(seed, x, retain_graph=k < len(paths) - 1, allow_unused=True)[0]
                heat = torch.zeros(x.shape[2:], dtype=torch.float64) if grad is None else \
                    grad.detach().abs().sum(1).sum(0).to("cpu", torch.float64)
                sums[p] = sums[p] + heat if p in sums else heat
    return paths, sums, shapes


def effective_receptive_field(model: nn.Module, images: object, units: str | Sequence[str] | None = None, *,
                              mode: str = "eval", mass: float = 0.95) -> dict[str, EffectiveField]:
    """The effective receptive field (Luo et al. 2016) of the centre unit of each unit path's output map.

    ``images``: a float (N, C, H, W) batch, normalised as the model eats it (real images: the field depends
    on them through the nonlinearities). ``units``: None or ``"stages"`` (the end of each stage:
    ``feature_info``'s modules, else the last top-level child at each resolution) or a list of module paths.
    ``mode``: ``"eval"`` (default: batch-norm running statistics, no dropout) or ``"train"``. The model is
    deep-copied; it is never touched. Returns ``{path: EffectiveField}`` in the order given.
    """
    if not isinstance(mass, (int, float)) or isinstance(mass, bool) or not 0 < mass <= 1:
        raise ConfigError(f"mass must be in (0, 1], got {mass!r}")
    images = _as_images(images)
    paths, narrow = _check_units(model, units)
    work = _working_copy(model, mode)
    paths, sums, shapes = _heatmaps(work, images, paths, narrow)
    theory, note = _theory(work, (1, *images.shape[1:]), paths)
    n = int(images.shape[0])
    result: dict[str, EffectiveField] = {}
    for p in paths:
        heat = (sums[p] / n).numpy()
        h, w = shapes[p][2:]
        unit = (h // 2, w // 2)
        rf = theory.get(p)
        notes = (note,) if note else ()
        if rf is not None and tuple(rf.feature_size) != (h, w):
            rf, notes = None, (*notes, f"the analysis' map at {p} is {rf.feature_size}, the forward's {(h, w)}")
        box = rf.box(unit) if rf is not None else None
        if box is not None and all(b is not None for b in box):
            centre = tuple((a + b + 1) / 2 for a, b in box)
        else:  # no theoretical field: the heatmap's own centre of mass
            total = heat.sum()
            centre = tuple(float((heat.sum(1 - a) * (np.arange(heat.shape[a]) + 0.5)).sum() / total)
                           if total > 0 else heat.shape[a] / 2 for a in (0, 1))
        result[p] = EffectiveField(p, heat, unit, (h, w), centre, mass_radius(heat, centre, mass),
                                   moment_sigma(heat), rf, n, mode, mass, notes)
    return result


def erf_heatmap(model: nn.Module, image: object, unit: str, *, mode: str = "eval") -> np.ndarray:
    """The (H, W) heatmap of one unit path's centre unit for one image ((C, H, W) or (1, C, H, W), normalised as
    the model eats it): the summed |gradient| over input channels. The model is never touched."""
    images = _as_images(image)
    if images.shape[0] != 1:
        raise ConfigError(f"erf_heatmap takes one image, got a batch of {images.shape[0]}")
    paths, _ = _check_units(model, [unit])
    _, sums, _ = _heatmaps(_working_copy(model, mode), images, paths, False)
    return sums[paths[0]].numpy()
