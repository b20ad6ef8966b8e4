"""The roofline plot (Williams, Waterman & Patterson, CACM 2009): each unit a point, the two roofs drawn.

x: arithmetic intensity (FLOP per byte moved), y: achieved FLOP/s, both logarithmic. The slanted roof is
``intensity × bandwidth``, the flat one the matmul peak; they meet at the ridge point. A point's height under
its roof is the share of the attainable rate it reached; its area grows with its share of the time.
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.analysis.profile.result import Profile
from cnnlab.analysis.profile.traffic import PLOT_KINDS
from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError

__all__ = ["FORMATS", "COLORS", "draw_roofline", "check_plot_path"]

FORMATS = (".png", ".svg")
COLORS = {"conv": "#1f77b4", "depthwise conv": "#d62728", "pointwise": "#ff7f0e", "linear": "#9467bd",
          "bn": "#2ca02c", "elementwise": "#8c564b", "pool": "#e377c2", "other": "#7f7f7f"}


def check_plot_path(path: Path | str, option: str = "--plot") -> Path:
    """``path`` if it names a .png or .svg file (not a folder); ConfigError naming it otherwise. Whether the
    folder can be written is found out by the write itself (a ConfigError too)."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ConfigError(f"{option} {str(path)!r} must end in .png or .svg")
    if target.is_dir():
        raise ConfigError(f"{option} {target} is an existing folder; give a file name such as roofline.png")
    return target


def draw_roofline(p: Profile, path: Path | str, title: str | None = None) -> Path:
    """Write the roofline of ``p`` to ``path`` (.png or .svg) atomically; returns the path."""
    target = check_plot_path(path, "roofline path")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    m = p.machine
    points = [u for u in p.units if u.bytes > 0 and u.flops > 0 and u.latency_s > 0]
    if not points:
        raise ConfigError(f"{p.model} has no unit with FLOPs, bytes and a time to plot")
    lo = min(min(u.intensity for u in points), m.ridge_intensity) / 2
    hi = max(max(u.intensity for u in points), m.ridge_intensity) * 2
    total = p.units_latency_s or 1.0
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    ridge = m.ridge_intensity
    ax.plot([lo, ridge, hi], [lo * m.bandwidth_bytes_per_s / 1e9, m.peak_flops / 1e9, m.peak_flops / 1e9],
            color="black", lw=1.5, zorder=1)
    ax.annotate(f"matmul peak {m.peak_flops / 1e9:.0f} GFLOP/s", (hi, m.peak_flops / 1e9), ha="right",
                va="bottom", fontsize=8)
    ax.annotate(f"memory {m.bandwidth_bytes_per_s / 1e9:.1f} GB/s", (lo * 1.1, lo * 1.1 * m.bandwidth_bytes_per_s / 1e9),
                rotation=0, ha="left", va="bottom", fontsize=8)
    ax.axvline(ridge, color="grey", ls=":", lw=0.8, zorder=0)
    for kind in PLOT_KINDS:
        mine = [u for u in points if u.plot_kind == kind]
        if not mine:
            continue
        ax.scatter([u.intensity for u in mine], [u.achieved_flops / 1e9 for u in mine],
                   s=[12 + 600 * u.latency_s / total for u in mine], color=COLORS[kind], alpha=0.7,
                   edgecolors="white", linewidths=0.5, label=f"{kind} ({len(mine)})", zorder=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved; 2 FLOPs per MAC)")
    ax.set_ylabel("achieved GFLOP/s")
    direction = "forward + backward" if p.backward else "forward"
    ax.set_title(title or f"{p.model} {'x'.join(map(str, p.input_size))} {direction}: roofline "
                          f"({m.threads} thread(s); point area = share of time)", fontsize=10)
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fmt = target.suffix.lower().lstrip(".")
    try:
        atomic_write(target, lambda tmp: fig.savefig(tmp, format=fmt))
    except OSError as exc:  # a read-only folder, a file where a folder should be, a full disk
        raise ConfigError(f"cannot write the roofline to {target}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return target
