"""Pictures and text lines of effective receptive fields (:mod:`cnnlab.analysis.effective_rf`), matplotlib."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cnnlab.atomic import atomic_write

__all__ = ["draw_effective_fields", "effective_line"]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def effective_line(field) -> str:  # noqa: ANN001 - an EffectiveField
    """One line: path, map size, the theoretical r and jump, the 95 % square's side and radius, sigma."""
    size = "x".join(map(str, field.feature_size))
    rf = field.theory
    theory = f"r={field.r} j={'x'.join(f'{v:g}' for v in rf.jump)}" if rf is not None and field.r is not None \
        else "r=- (no theoretical field)"
    share = f" = {field.side / field.r:.0%} of r" if field.side is not None and field.r else ""
    sigma = "-" if field.sigma is None else "x".join(f"{s:.2f}" for s in field.sigma)
    return (f"{field.path:<24} {size:<8} {theory:<16} effective: {field.mass:.0%} in side "
            f"{_number(field.side)}{share} (radius {_number(field.radius)}), sigma {sigma}")


def draw_effective_fields(fields: Mapping[str, object], out: Path, title: str) -> None:
    """One heatmap per unit (its |gradient| mass, normalised to its peak) with the centre unit's theoretical
    box (yellow, solid; cut off at the image's edges, so a field larger than the image shows no box) and the square holding the field's mass (cyan,
    dashed); saved as a PNG at ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    items = list(fields.values())
    fig, axes = plt.subplots(1, len(items), figsize=(2.6 * len(items), 3.3), squeeze=False)
    for ax, f in zip(axes[0], items, strict=True):
        h, w = f.heatmap.shape
        peak = f.heatmap.max()
        ax.imshow(f.heatmap / peak if peak > 0 else f.heatmap, extent=(0, w, h, 0), cmap="magma", vmin=0, vmax=1)
        box = f.box
        if box is not None and all(b is not None for b in box):
            (top, bottom), (left, right) = box
            ax.add_patch(Rectangle((left, top), right + 1 - left, bottom + 1 - top, fill=False, color="yellow",
                                   lw=1.5))
        if f.radius is not None:
            ax.add_patch(Rectangle((f.centre[1] - f.radius, f.centre[0] - f.radius), f.side, f.side, fill=False,
                                   color="cyan", lw=1.2, ls="--"))
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        r = "-" if f.r is None else str(f.r)
        ax.set_title(f"{f.path} ({'x'.join(map(str, f.feature_size))})\nr={r}, {f.mass:.0%} side={_number(f.side)}",
                     fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    finally:
        plt.close(fig)
