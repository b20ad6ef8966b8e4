"""Paper-style stage tables derived from a built network: rows, output sizes, operators, repeats, MACs.

One renderer, two sources of layout:

* a network with a ``paper_table`` hook — a function of the network (cnnlab's nets set one per family,
  see :mod:`cnnlab.nets.paper_table`) or a method — gets its paper's layout (MobileNetV2's ``t, c, n, s``
  rows, GoogLeNet's branch widths, VGG's ``conv3-64`` column ...). The layout is plain data:

  ``{"source": str, "columns": [(header, key), ...], "channels": bool, "rows": [row, ...]}``, each row
  ``{"name": str, "paths": [module path, ...], "lead": [path, ...], "block": path | None,
  "repeats": int, "channels": int | None, "cells": {key: str}}``.

  ``paths`` are the modules whose units make the row (inspect rows under no path, such as a ReLU after
  them, join the row before); ``lead`` and ``block`` are listed in the ``"block"`` column as
  ``lead lines, [block units] × repeats`` (neither: every unit of ``paths``); ``channels`` overrides the
  output channels where the last unit's are not the row's (a concatenation). Column keys
  ``"name"``, ``"input size"``, ``"output size"`` and ``"block"`` are derived here, any other key reads
  ``cells``; in names and cells ``{input_hw}`` stands for the row's input size (a global pool's window). With
  ``channels`` the sizes read ``HxWxC`` (GoogLeNet, MobileNet), else ``HxW`` (ResNet).
* any other module gets ResNet's Table 1 layout (He et al. 2016): with ``stem`` and ``stages`` the stem is
  ``conv1`` and stage i ``conv{i+2}_x``, else the top-level children are the groups (norm / activation
  children join the group before them); a stage of blocks of one type shows its first block × the number
  of blocks.

Output sizes, MACs and parameters always come from :func:`cnnlab.analysis.inspect` — nothing is typed in.
A model the stage table cannot read raises :class:`cnnlab.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import nn

from cnnlab.arith.checks import pair, require_shape
from cnnlab.errors import ConfigError

if TYPE_CHECKING:
    from cnnlab.analysis import Report

__all__ = ["StageRow", "stage_rows", "stage_table", "unit_line"]

_SHORTCUT_WORDS = frozenset({"downsample", "shortcut", "proj", "skip"})  # whole path components only
_FOLLOWERS = (nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish,
              nn.Dropout, nn.Identity, nn.Flatten)
_GENERIC_COLUMNS = [("layer name", "name"), ("output size", "output size"), ("block", "block")]


@dataclass(frozen=True)
class StageRow:
    """One row of a stage table; sizes are ``HxW`` (``1x1`` after the classifier's pool)."""

    name: str
    output_size: str
    spec: list[str]  # unit lines of the bracketed block (repeated ``repeats`` times), else of the whole row
    repeats: int
    params: int
    macs: int
    input_size: str = ""
    lead: list[str] = field(default_factory=list)  # unit lines before the bracket (ResNet's conv2_x max pool)
    output_channels: int | None = None
    input_channels: int | None = None
    cells: dict[str, str] = field(default_factory=dict)  # the paper's own columns (t, c, n, s, #1x1 ...)

    @property
    def block_lines(self) -> list[str]:
        """The operator column as lines: ``lead``, then ``[spec] × repeats``."""
        if self.repeats > 1 and self.spec:
            inner = list(self.spec)
            inner[0], inner[-1] = "[" + inner[0], inner[-1] + f"] × {self.repeats}"
            return [*self.lead, *inner]
        return [*self.lead, *self.spec]


# --- unit notation (ResNet / ResNeXt papers: "3x3, 64, stride 2", "3x3, 128, C=32") --------------------

def unit_line(m: nn.Module) -> str | None:
    """One unit in the ResNet papers' notation, or None for units the tables leave out (BN, ReLU ...)."""
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        text = f"{kh}x{kw}, {m.out_channels}"
        if m.groups == m.in_channels and m.groups > 1:
            text += ", dw"
        elif m.groups > 1:
            text += f", C={m.groups}"
        if max(m.dilation) > 1:
            text += f", dilation {m.dilation[0]}"
        return text + (f", stride {m.stride[0]}" if m.stride[0] > 1 else "")
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s = pair("kernel_size", m.kernel_size)[0], pair("stride", m.stride)[0]
        return f"{k}x{k} {'max' if isinstance(m, nn.MaxPool2d) else 'average'} pool, stride {s}"
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        kind = "average" if isinstance(m, nn.AdaptiveAvgPool2d) else "max"
        size = m.output_size
        h, w = (size, size) if not isinstance(size, Sequence) else tuple(size)
        if (h, w) == (1, 1):
            return f"global {kind} pool"
        return f"adaptive {kind} pool to {h}x{w}"
    if isinstance(m, nn.ChannelShuffle):
        return f"channel shuffle, g={m.groups}"
    if isinstance(m, nn.Linear):
        return f"{m.out_features}-d fc"
    return None


def _unit_lines(module: nn.Module) -> list[str]:
    lines = []
    for name, m in module.named_modules():
        if _SHORTCUT_WORDS.intersection(name.split(".")):
            continue
        line = unit_line(m)
        if line is not None:
            lines.append(line)
    return lines


# --- layouts ------------------------------------------------------------------------------------------

def _row(name: str, paths: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "paths": paths, **extra}


def _stage_row(name: str, path: str, stage: nn.Module) -> dict[str, Any]:
    children = list(stage.named_children())
    if children and len({type(c) for _, c in children}) == 1 and next(children[0][1].children(), None) is not None:
        return _row(name, [path], block=f"{path}.{children[0][0]}", repeats=len(children))
    return _row(name, [path])


def _is_stage(m: nn.Module) -> bool:
    children = list(m.children())
    return isinstance(m, nn.Sequential) and len(children) > 0 and all(
        any(isinstance(c, nn.Conv2d) for c in child.modules()) and next(child.children(), None) is not None
        for child in children)


def _generic_layout(model: nn.Module) -> dict[str, Any]:
    """ResNet Table 1's layout for any module (see the module docstring)."""
    stem, stages = getattr(model, "stem", None), getattr(model, "stages", None)
    rows: list[dict[str, Any]] = []
    if isinstance(stem, nn.Module) and isinstance(stages, nn.Module) and next(stages.children(), None) is not None:
        rows.append(_row("conv1", ["stem"]))
        for i, (name, stage) in enumerate(stages.named_children()):
            rows.append(_stage_row(f"conv{i + 2}_x", f"stages.{name}", stage))
        rest = [n for n, _ in model.named_children() if n not in ("stem", "stages")]
        if rest:
            rows.append(_row("head", rest))
        return {"source": "He et al. 2016, Table 1 layout", "columns": _GENERIC_COLUMNS, "rows": rows}
    for name, child in model.named_children():
        if isinstance(child, _FOLLOWERS) and rows and "block" not in rows[-1]:
            rows[-1]["paths"].append(name)
        elif _is_stage(child):
            rows.append(_stage_row(name, name, child))
        else:
            rows.append(_row(name, [name]))
    if not rows:  # a single unit
        rows.append(_row(type(model).__name__, [""]))
    return {"source": "He et al. 2016, Table 1 layout", "columns": _GENERIC_COLUMNS, "rows": rows}


def _layout(model: nn.Module) -> dict[str, Any]:
    """The model's own ``paper_table()`` layout, else the generic one; checked, paths resolved."""
    where = f"stage table of {type(model).__name__}"
    hook = getattr(model, "paper_table", None)
    layout = None
    if callable(hook) and not isinstance(hook, nn.Module):
        try:
            layout = hook() if getattr(hook, "__self__", None) is model else hook(model)
        except ConfigError:
            raise
        except Exception as exc:  # the network's own code: whatever it raises, the table cannot be laid out
            raise ConfigError(f"{where}: its paper_table() failed ({type(exc).__name__}: {exc})") from exc
    if layout is None:
        layout = _generic_layout(model)
    if not isinstance(layout, Mapping) or not _is_list(layout.get("rows")) or not layout["rows"]:
        raise ConfigError(f"{where}: paper_table() must return a dict with a non-empty 'rows' list, got {layout!r}")
    columns = layout.get("columns", _GENERIC_COLUMNS)
    if not _is_list(columns) or not columns or not all(
            _is_list(c) and len(c) == 2 and all(isinstance(v, str) for v in c) for c in columns):
        raise ConfigError(f"{where}: 'columns' must be (header, key) pairs of strings, got {columns!r}")
    for i, row in enumerate(layout["rows"]):
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str) or not _is_list(row.get("paths")):
            raise ConfigError(f"{where}: row {i} must be a dict with 'name' (str) and 'paths' (list), got {row!r}")
        repeats, channels = row.get("repeats", 1), row.get("channels")
        if not _is_count(repeats) or not (channels is None or _is_count(channels)) or not isinstance(
                row.get("cells", {}), Mapping) or not _is_list(row.get("lead", ())):
            raise ConfigError(f"{where}: row {row['name']!r} needs 'repeats' and 'channels' (positive ints), "
                              f"'lead' (a list) and 'cells' (a dict), got {row!r}")
        for path in [*row["paths"], *row.get("lead", ()), *([row["block"]] if row.get("block") else [])]:
            try:
                model.get_submodule(path)
            except (AttributeError, TypeError):
                raise ConfigError(f"{where}: row {row['name']!r} names module {path!r}, which the model "
                                  "does not have") from None
    return {"source": str(layout.get("source", "")), "columns": [tuple(c) for c in columns],
            "channels": bool(layout.get("channels")), "rows": list(layout["rows"])}


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# --- rows ---------------------------------------------------------------------------------------------

def _assign(report_rows: Sequence[Any], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Each inspect row to the table row with the longest matching path; rows under none of the paths
    (a ReLU after a unit, an add) join the table row before them."""
    owner: dict[str, int] = {}
    for i, row in enumerate(rows):
        for path in row["paths"]:
            owner[path] = i
    groups: list[list[Any]] = [[] for _ in rows]
    current = 0
    for r in report_rows:
        parts = r.path.split(".")
        for n in range(len(parts), -1, -1):
            prefix = ".".join(parts[:n])
            if prefix in owner:
                current = owner[prefix]
                break
        groups[current].append(r)
    return groups


def _shape_of(members: Sequence[Any], batch: int) -> tuple[int, ...] | None:
    for r in reversed(members):
        shape = r.output_shape
        if shape and len(shape) >= 2 and shape[0] == batch:
            return tuple(shape)
    return None


def _hw_c(shape: tuple[int, ...]) -> tuple[str, int]:
    if len(shape) == 4:
        return f"{shape[2]}x{shape[3]}", shape[1]
    if len(shape) == 2:
        return "1x1", shape[1]
    return "x".join(map(str, shape[2:])), shape[1]


def stage_rows(model: nn.Module, input_size: object = None, report: Report | None = None) -> list[StageRow]:
    """The stage table of ``model`` as data; ``input_size`` defaults to ``(1, model.in_chans or 3, 224, 224)``
    (``report``: an inspect report of the same input, to save tracing twice)."""
    return _derive(model, input_size, report)[1]


def _derive(model: nn.Module, input_size: object, report: Report | None = None
            ) -> tuple[dict[str, Any], list[StageRow], int, tuple[int, ...]]:
    """(layout, rows, total MACs, input shape)."""
    shape = _input_shape(model, input_size)
    if report is None:
        from cnnlab.analysis import inspect

        report = inspect(model, shape)
    layout = _layout(model)
    return layout, _rows(model, layout, report.rows, shape), sum(r.macs for r in report.rows), shape


def _input_shape(model: nn.Module, input_size: object) -> tuple[int, ...]:
    if input_size is None:
        in_chans = getattr(model, "in_chans", 3)
        input_size = (1, in_chans if isinstance(in_chans, int) and in_chans > 0 else 3, 224, 224)
    return require_shape("input_size", input_size, "stage table", min_dims=2)


def _rows(model: nn.Module, layout: Mapping[str, Any], report_rows: Sequence[Any],
          shape: tuple[int, ...]) -> list[StageRow]:
    groups = _assign(report_rows, layout["rows"])
    previous = shape
    prev_channels: int | None = shape[1]
    out = []
    for row, members in zip(layout["rows"], groups, strict=True):
        in_hw, _ = _hw_c(previous)
        last = _shape_of(members, shape[0]) or previous
        out_hw, out_c = _hw_c(last)
        channels = row.get("channels") or out_c
        lead = [line for p in row.get("lead", ()) for line in _unit_lines(model.get_submodule(p))]
        if row.get("block"):
            spec, repeats = _unit_lines(model.get_submodule(row["block"])), row.get("repeats", 1)
        elif row.get("lead"):
            spec, repeats = [], 1
        else:
            spec, repeats = [line for p in row["paths"] for line in _unit_lines(model.get_submodule(p))], 1
        cells = {str(k): str(v).replace("{input_hw}", in_hw) for k, v in dict(row.get("cells", {})).items()}
        name = row["name"].replace("{input_hw}", in_hw)
        out.append(StageRow(name, out_hw, spec, repeats, sum(r.params for r in members),
                            sum(r.macs for r in members), in_hw, lead, int(channels), prev_channels, cells))
        previous, prev_channels = last, int(channels)
    return out


# --- rendering ----------------------------------------------------------------------------------------

def _macs_text(macs: int) -> str:
    for scale, unit, digits in ((1e9, "G", 3), (1e6, "M", 1), (1e3, "K", 1)):
        if macs >= scale:
            return f"{macs / scale:.{digits}f} {unit}"
    return str(macs)


def _cell(row: StageRow, key: str, channels: bool) -> str:
    if key == "name":
        text = row.name
    elif key in ("input size", "output size"):
        hw, c = (row.input_size, row.input_channels) if key == "input size" else (row.output_size,
                                                                                  row.output_channels)
        text = f"{hw}x{c}" if channels and c is not None else hw
    elif key == "block":
        text = "\n".join(row.block_lines) or "-"
    else:
        text = row.cells.get(key, "")
    return text.replace("|", "\\|").replace("\n", "<br>")


def stage_table(model: nn.Module, input_size: object = None) -> str:
    """Markdown table in the layout of the network's paper (its ``paper_table()``, else ResNet Table 1):
    the paper's columns, then MACs; a total row and the layout's source follow."""
    layout, rows, total, shape = _derive(model, input_size)
    headers = [h for h, _ in layout["columns"]] + ["MACs"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * (len(headers) - 1) + "---:|"]
    for row in rows:
        cells = [_cell(row, key, layout["channels"]) for _, key in layout["columns"]]
        lines.append("| " + " | ".join(cells + [_macs_text(row.macs)]) + " |")
    lines.append("| " + " | ".join(["total"] + [""] * (len(headers) - 2) + [_macs_text(total)]) + " |")
    source = f"Layout: {layout['source']}. " if layout["source"] else ""
    return "\n".join(lines) + f"\n\n{source}Sizes and MACs measured at input {'x'.join(map(str, shape))}.\n"
