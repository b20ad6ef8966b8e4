"""Paper-style stage tables (ResNet paper, Table 1 column) derived from a built network.

Groups: for a network with ``stem`` and ``stages`` (cnnlab's contract) the stem is ``conv1``, stage i
is ``conv{i+2}_x`` as in the ResNet paper, and the rest is the head; for any other network the
top-level children are the groups (norm / activation children join the group before them). Each
stage shows its first block's convolutions ``[k x k, C]`` × the number of blocks, and the output
size and MACs come from :func:`inspect` — nothing is typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnlab.analysis.inspect import inspect
from cnnlab.analysis.report import Report

__all__ = ["StageRow", "stage_rows", "stage_table"]

_SHORTCUT_WORDS = ("downsample", "shortcut", "proj", "skip")
_FOLLOWERS = (nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish,
              nn.Dropout, nn.Identity, nn.Flatten)


@dataclass(frozen=True)
class StageRow:
    name: str
    output_size: str
    spec: list[str]  # one line per unit of the (first) block
    repeats: int
    params: int
    macs: int


def _conv_line(m: nn.Conv2d) -> str:
    kh, kw = m.kernel_size
    text = f"{kh}x{kw}, {m.out_channels}"
    if m.groups == m.in_channels and m.groups > 1:
        text += ", dw"
    elif m.groups > 1:
        text += f", C={m.groups}"
    stride = m.stride[0]
    return text + (f", stride {stride}" if stride > 1 else "")


def _unit_line(m: nn.Module) -> str | None:
    if isinstance(m, nn.Conv2d):
        return _conv_line(m)
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        s = m.stride if isinstance(m.stride, int) else m.stride[0]
        return f"{k}x{k} {'max' if isinstance(m, nn.MaxPool2d) else 'avg'} pool, stride {s}"
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return "global average pool" if isinstance(m, nn.AdaptiveAvgPool2d) else "global max pool"
    if isinstance(m, nn.Linear):
        return f"fc {m.out_features}"
    return None


def _spec(module: nn.Module) -> list[str]:
    lines = []
    for name, m in module.named_modules():
        if any(word in name for word in _SHORTCUT_WORDS):
            continue
        line = _unit_line(m)
        if line is not None:
            lines.append(line)
    return lines


def _is_stage(m: nn.Module) -> bool:
    children = list(m.children())
    return isinstance(m, nn.Sequential) and len(children) > 0 and all(
        any(isinstance(c, nn.Conv2d) for c in child.modules()) and len(list(child.children())) > 0
        for child in children)


def _groups(model: nn.Module) -> list[tuple[str, list[str], nn.Module | None, list[nn.Module]]]:
    """(name, module path prefixes, stage module or None, leaf modules) per group."""
    if isinstance(getattr(model, "stages", None), nn.Sequential) and hasattr(model, "stem"):
        groups = [("conv1", ["stem"], None, [model.stem])]
        for i, stage in enumerate(model.stages):
            groups.append((f"conv{i + 2}_x", [f"stages.{i}"], stage, []))
        rest = [n for n, _ in model.named_children() if n not in ("stem", "stages")]
        if rest:
            groups.append(("head", rest, None, [getattr(model, n) for n in rest]))
        return groups
    groups = []
    for name, child in model.named_children():
        if isinstance(child, _FOLLOWERS) and groups and groups[-1][2] is None:
            groups[-1][1].append(name)
            groups[-1][3].append(child)
        elif _is_stage(child):
            groups.append((name, [name], child, []))
        else:
            groups.append((name, [name], None, [child]))
    return groups


def stage_rows(model: nn.Module, input_size: object = (1, 3, 224, 224), report: Report | None = None) -> list[StageRow]:
    """The stage table of ``model`` as data."""
    report = report or inspect(model, input_size)
    rows = []
    for name, prefixes, stage, leaves in _groups(model):
        mine = [r for r in report.rows if any(r.path == p or r.path.startswith(p + ".") for p in prefixes)]
        shapes = [r.output_shape for r in mine if r.output_shape]
        last = shapes[-1] if shapes else None
        size = "x".join(map(str, last[2:])) if last and len(last) == 4 else ("x".join(map(str, last[1:])) if last else "")
        if stage is not None:
            spec, repeats = _spec(stage[0]), len(stage)
        else:
            spec = [line for leaf in leaves for line in _spec(leaf)]
            repeats = 1
        rows.append(StageRow(name, size, spec, repeats, sum(r.params for r in mine), sum(r.macs for r in mine)))
    return rows


def stage_table(model: nn.Module, input_size: object = (1, 3, 224, 224)) -> str:
    """Markdown table: layer name | output size | [block spec] × repeats | MACs."""
    lines = ["| layer name | output size | block | MACs |", "|---|---|---|---:|"]
    for row in stage_rows(model, input_size):
        block = "<br>".join(row.spec) if row.spec else "-"
        if row.repeats > 1:
            block = f"[{block}] × {row.repeats}"
        lines.append(f"| {row.name} | {row.output_size} | {block} | {row.macs / 1e9:.3f} G |")
    return "\n".join(lines) + "\n"
