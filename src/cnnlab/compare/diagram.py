"""Architecture diagrams (stem → stages → head, blocks listed in each) as inline SVG.

Rendered with graphviz ``dot`` when it is on PATH; otherwise drawn directly as SVG boxes, so the
report never depends on graphviz. ``Diagram.renderer`` says which one produced the picture.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass

from cnnlab.compare.structure import BlockBox, GroupBox

__all__ = ["Diagram", "block_label", "render_diagram", "to_dot", "draw_svg"]

ROLE_COLOURS = {"stem": "#dbe9f6", "stage": "#e3f1df", "head": "#f6e3d7"}
DOT_TIMEOUT_S = 30


@dataclass(frozen=True)
class Diagram:
    svg: str  # an <svg> element, ready to inline in HTML
    renderer: str  # "graphviz dot" or "built-in SVG"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "not reached"


def _params_text(params: int) -> str:
    if params >= 1_000_000:
        return f"{params / 1e6:.2f}M"
    if params >= 1_000:
        return f"{params / 1e3:.1f}k"
    return str(params)


def block_label(block: BlockBox) -> str:
    """``Bottleneck 64→256 /2 · 256×8×8`` style text for one block."""
    parts = [block.kind]
    if len(block.in_shape) == 3 and len(block.out_shape) == 3:
        parts.append(f"{block.in_shape[0]}→{block.out_shape[0]}")
        if block.stride and block.stride > 1:
            parts.append(f"/{block.stride}")
    parts.append(f"· {_shape_text(block.out_shape)}")
    if block.params:
        parts.append(f"· {_params_text(block.params)}")
    return " ".join(parts)


def group_title(group: GroupBox) -> str:
    return f"{group.name} · {_shape_text(group.out_shape)} · {_params_text(group.params)} params"


def to_dot(groups: list[GroupBox], title: str) -> str:
    """Graphviz source: one table-shaped node per group, top to bottom."""
    lines = [
        "digraph net {",
        "  rankdir=TB; bgcolor=transparent; nodesep=0.15; ranksep=0.22;",
        f"  label=<{html.escape(title)}>; labelloc=t; fontname=Helvetica; fontsize=12;",
        "  node [shape=plaintext, fontname=Helvetica, fontsize=10];",
        "  edge [color=\"#555555\", arrowsize=0.6];",
    ]
    for index, group in enumerate(groups):
        colour = ROLE_COLOURS.get(group.role, "#eeeeee")
        rows = [
            f'<tr><td bgcolor="{colour}"><b>{html.escape(group_title(group))}</b></td></tr>',
            *(f'<tr><td align="left">{html.escape(block_label(b))}</td></tr>' for b in group.blocks),
        ]
        table = '<table border="0" cellborder="1" cellspacing="0" cellpadding="3">' + "".join(rows) + "</table>"
        lines.append(f"  g{index} [label=<{table}>];")
    lines += [f"  g{i} -> g{i + 1};" for i in range(len(groups) - 1)]
    lines.append("}")
    return "\n".join(lines)


def _strip_svg_prologue(svg: str) -> str:
    """Keep only the <svg>…</svg> element (no XML declaration, DOCTYPE or comments before it)."""
    start = svg.find("<svg")
    return svg[start:].strip() if start >= 0 else svg


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make element ids unique when several diagrams are inlined in one page."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)


def _render_with_dot(source: str) -> str | None:
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run(
            [dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=DOT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or "<svg" not in done.stdout:
        return None
    return _strip_svg_prologue(done.stdout)


CHAR_W, LINE_H, PAD, GAP = 6.0, 18, 8, 22


def draw_svg(groups: list[GroupBox], title: str) -> str:
    """The same picture as ``to_dot`` drawn directly: one box of rows per group, top to bottom."""
    tables = [(group, [group_title(group), *(block_label(b) for b in group.blocks)]) for group in groups]
    width = max([len(title)] + [len(t) for _, texts in tables for t in texts]) * CHAR_W + 2 * PAD
    height = PAD + LINE_H + sum(len(texts) * LINE_H + GAP for _, texts in tables) - GAP + PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 2 * PAD:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width + 2 * PAD:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="10">',
        f'<text x="{PAD}" y="{PAD + 10}" font-size="12">{html.escape(title)}</text>',
    ]
    y = PAD + LINE_H
    for index, (group, texts) in enumerate(tables):
        colour = ROLE_COLOURS.get(group.role, "#eeeeee")
        for row, text in enumerate(texts):
            fill = colour if row == 0 else "#ffffff"
            weight = ' font-weight="bold"' if row == 0 else ""
            parts.append(
                f'<rect x="{PAD}" y="{y}" width="{width:.1f}" height="{LINE_H}" fill="{fill}" stroke="#444"/>'
                f'<text x="{PAD + 4}" y="{y + 13}"{weight}>{html.escape(text)}</text>'
            )
            y += LINE_H
        if index + 1 < len(tables):
            x_mid = PAD + width / 2
            parts.append(
                f'<line x1="{x_mid:.1f}" y1="{y}" x2="{x_mid:.1f}" y2="{y + GAP - 5}" stroke="#555"/>'
                f'<polygon points="{x_mid:.1f},{y + GAP} {x_mid - 3:.1f},{y + GAP - 6} {x_mid + 3:.1f},{y + GAP - 6}" '
                'fill="#555"/>'
            )
        y += GAP
    parts.append("</svg>")
    return "".join(parts)


def render_diagram(groups: list[GroupBox], title: str, id_prefix: str, use_dot: bool = True) -> Diagram:
    """An inline-ready SVG of the network: graphviz when available (and asked for), else built-in."""
    svg = _render_with_dot(to_dot(groups, title)) if use_dot else None
    if svg is not None:
        return Diagram(svg=_prefix_ids(svg, id_prefix), renderer="graphviz dot")
    return Diagram(svg=draw_svg(groups, title), renderer="built-in SVG")
