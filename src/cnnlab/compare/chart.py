"""The lecture's comparison chart: accuracy vs MACs (log x), bubble area ∝ params, colour = family.

Two panels side by side: the published ImageNet-1K numbers, and the accuracy measured here under
one shared training budget. Written as PNG and SVG with matplotlib's non-interactive backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnlab.atomic import atomic_write

__all__ = ["ChartPoint", "draw_comparison_chart", "family_colours"]

MAX_BUBBLE_AREA_PT2 = 1800.0  # the largest model of a panel gets this marker area
MIN_BUBBLE_AREA_PT2 = 12.0  # so that a tiny model stays visible (areas below this are clipped)


@dataclass(frozen=True)
class ChartPoint:
    label: str
    family: str
    macs: int
    accuracy_pct: float
    params: int


def registry_families() -> list[str]:
    """The families of all registered models, sorted: the fixed order that assigns chart colours."""
    from cnnlab import nets

    return sorted({nets.model_info(name)["family"] for name in nets.list_models()})


def family_colours(families: list[str]) -> dict[str, tuple]:
    """One colour per family (matplotlib's tab10), fixed by its place among the registry's families, so
    a family keeps its colour whichever others are in the chart; other families follow, sorted."""
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    known = registry_families()
    extra = sorted(set(families) - set(known))
    place = {family: index for index, family in enumerate(known + extra)}
    return {family: palette(place[family] % 10) for family in sorted(set(families))}


LABEL_OFFSETS_PT = ((6, 5, "left"), (6, -12, "left"), (-6, 5, "right"), (-6, -12, "right"), (6, 16, "left"),
                    (6, -23, "left"))


def _label_points(ax, points: list[ChartPoint]) -> None:
    """Name each bubble, trying a few offsets so that labels of nearby models do not overlap."""
    to_pixels = ax.transData.transform
    points_per_pixel = 72.0 / ax.figure.dpi
    placed: list[tuple[float, float, float, float]] = []  # label boxes in points: x0, y0, x1, y1
    for point in sorted(points, key=lambda p: (p.macs, p.accuracy_pct)):
        px, py = (v * points_per_pixel for v in to_pixels((point.macs, point.accuracy_pct)))
        width, height = 4.6 * len(point.label), 9.0
        chosen = LABEL_OFFSETS_PT[0]
        for dx, dy, align in LABEL_OFFSETS_PT:
            x0 = px + dx if align == "left" else px + dx - width
            box = (x0, py + dy, x0 + width, py + dy + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                chosen = (dx, dy, align)
                break
        dx, dy, align = chosen
        x0 = px + dx if align == "left" else px + dx - width
        placed.append((x0, py + dy, x0 + width, py + dy + height))
        ax.annotate(point.label, (point.macs, point.accuracy_pct), xytext=(dx, dy), textcoords="offset points",
                    ha=align, va="bottom", fontsize=8, zorder=4)


def _panel(ax, points: list[ChartPoint], colours: dict[str, tuple], title: str, xlabel: str, empty: str,
           recorded: list[ChartPoint] | None = None) -> None:
    """One panel; ``recorded`` points (accuracy recorded at convergence) are drawn as hollow diamonds of the
    same family colour and size rule, joined to the same model's point of this run by a thin line."""
    recorded = recorded or []
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(True, which="both", alpha=0.25)
    if not points:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="#777777")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.set_xscale("log")
    scale = MAX_BUBBLE_AREA_PT2 / max(p.params for p in points + recorded)
    for point in points:
        ax.scatter(
            point.macs,
            point.accuracy_pct,
            s=max(MIN_BUBBLE_AREA_PT2, point.params * scale),
            color=colours[point.family],
            alpha=0.55,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
        )
    by_label = {p.label: p for p in points}
    for point in recorded:
        ax.scatter(point.macs, point.accuracy_pct, s=max(MIN_BUBBLE_AREA_PT2, point.params * scale), marker="D",
                   facecolors="none", edgecolors=[colours[point.family]], linewidths=1.4, zorder=3)
        short = by_label.get(point.label)
        if short is not None:
            ax.plot([short.macs, point.macs], [short.accuracy_pct, point.accuracy_pct], color=colours[point.family],
                    linewidth=0.8, linestyle=":", zorder=2)
    xs = [p.macs for p in points + recorded]
    ys = [p.accuracy_pct for p in points + recorded]
    ax.set_xlim(min(xs) / 2.0, max(xs) * 2.5)
    spread = max(ys) - min(ys)
    margin = max(2.0, 0.25 * spread)
    ax.set_ylim(min(ys) - margin, max(ys) + margin)
    _label_points(ax, points + [p for p in recorded if p.label not in by_label])
    biggest = max(points, key=lambda p: p.params)
    ax.text(0.01, 0.01, f"bubble area ∝ params (largest: {biggest.label}, {biggest.params / 1e6:.1f}M)",
            transform=ax.transAxes, fontsize=7, color="#555555", va="bottom")


def draw_comparison_chart(
    published: list[ChartPoint],
    measured: list[ChartPoint],
    png_path: Path,
    svg_path: Path,
    measured_title: str,
    measured_xlabel: str,
    measured_empty: str = "no accuracy measured (run without --no-train)",
    recorded: list[ChartPoint] | None = None,
    recorded_caption: str = "",
) -> None:
    """Draw both panels and write ``png_path`` and ``svg_path`` atomically; ``recorded`` points (accuracy at
    convergence recorded by a benchmark, ``recorded_caption`` saying when and how) join the measured panel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colours = family_colours([p.family for p in published + measured + (recorded or [])])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.4), constrained_layout=True)
    _panel(left, published, colours, "Published: ImageNet-1K, 224×224", "MACs per image (log scale)",
           "no published ImageNet numbers for these models")
    _panel(right, measured, colours, measured_title, measured_xlabel, measured_empty, recorded)
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor=colour, alpha=0.7,
               markeredgecolor="black", label=family)
        for family, colour in colours.items()
    ]
    if recorded:
        handles += [
            Line2D([], [], marker="o", linestyle="", markersize=8, markerfacecolor="#bbbbbb", markeredgecolor="black",
                   label="this run"),
            Line2D([], [], marker="D", linestyle="", markersize=7, markerfacecolor="none", markeredgecolor="black",
                   label="converged\n(recorded)"),
        ]
        fig.supxlabel("◇ " + recorded_caption, fontsize=7, color="#444444")
    if handles:
        fig.legend(handles=handles, title="family", loc="outside right center", fontsize=8)
    fig.suptitle("Accuracy vs multiply-accumulates (bubble area ∝ parameters)", fontsize=12)
    for path, fmt in ((png_path, "png"), (svg_path, "svg")):
        atomic_write(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=130))
    plt.close(fig)
