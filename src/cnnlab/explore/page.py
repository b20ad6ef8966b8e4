"""``cnnlab.explore``: one self-contained HTML page to walk through any network cnnlab can inspect.

The page is a template (``explore.html``) with its script and style inlined (``explore.js``,
``explore.css``) and the data as inline JSON: the tree (:mod:`cnnlab.explore.tree`), one record per
inspect row (shapes, params, MACs, FLOPs, receptive field with ``r``, ``r_min``, ``jump``, ``start`` and one
period of boxes, the unit's window for the animations), the input image letterboxed to the input size as
``cnnlab rf`` fits it, and, when given, a runtime profile and effective receptive fields. Nothing is fetched.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab.analysis.render.report import _num
from cnnlab.atomic import atomic_write_text
from cnnlab.errors import ConfigError
from cnnlab.explore.geometry import unit_geometry
from cnnlab.explore.trace import Traced, trace
from cnnlab.explore.tree import build_tree

__all__ = ["build_page", "explore", "letterboxed", "page_data", "render_page", "MAX_BOXES", "IMAGE_SIDE"]

MAX_BOXES = 256  # a field's period (>1) up to this many units is embedded box by box (any unit's exact box)
IMAGE_SIDE = 448  # the embedded picture's longest side at most (the overlay scales it to the input)


def _field(field: object) -> list[dict] | None:
    if field is None:
        return None
    axes = []
    for t in field.theory[-2:]:
        if t is None:
            axes.append(None)
            continue
        boxes = None  # period 1: unit u's box is start + u*jump -+ r/2, the page computes it
        if 1 < t.period <= MAX_BOXES or t.empty_units:
            boxes = [list(b) if b is not None else None for b in t.boxes]
        axes.append({"r": t.r, "r_min": t.r_min, "jump": _num(t.jump), "start": _num(t.start),
                     "period": t.period, "shift": t.shift, "boxes": boxes})
    return axes


def _group_outputs(node: dict, outputs: dict) -> None:
    """Each group's and repeat's output shape, field and map: its module's last op (rows or not)."""
    if node["t"] == "u":
        return
    for item in node["items"]:
        _group_outputs(item, outputs)
    path = node["items"][-1]["path"] if node["t"] == "r" else node["path"]
    shape, field = outputs.get(path, (None, None))
    node["out"] = list(shape) if shape else None
    node["rf"] = _field(field)
    node["map"] = list(field.sizes[-2:]) if field is not None else None
    if node["t"] == "r":
        node["path"] = node["items"][0]["path"]


def _row_record(row: object, extra: object) -> dict:
    return {"path": row.path, "type": row.type, "kind": row.kind,
            "in": list(extra.in_shape) if extra.in_shape else None,
            "out": list(row.output_shape) if row.output_shape else None,
            "params": row.params, "macs": row.macs, "flops": row.flops,
            "rf": _field(extra.field),
            "map": list(extra.field.sizes[-2:]) if extra.field is not None else None,
            "note": row.note,
            "geo": unit_geometry(extra.module, extra.call, extra.in_shape, row.output_shape)}


def letterboxed(image: object, input_size: tuple[int, ...]) -> tuple[object, str]:
    """``image`` (a file or a PIL image) fitted to the input as ``cnnlab rf`` fits it (aspect kept, grey
    bars), and a sentence saying how; ConfigError naming a file that cannot be read."""
    from cnnlab.analysis.render.rf_plot import _open_picture, letterbox

    height, width = input_size[-2:] if len(input_size) >= 4 else (1, input_size[-1])
    grey = len(input_size) == 4 and input_size[1] == 1
    picture = image.convert("L" if grey else "RGB") if hasattr(image, "convert") else _open_picture(Path(image), grey)
    return letterbox(picture, width, height)


def _picture(image: object, input_size: tuple[int, ...]) -> tuple[str, str]:
    """The letterboxed image as a PNG data URL (at most IMAGE_SIDE pixels a side), and how it was fitted."""
    picture, how = letterboxed(image, input_size)
    width, height = picture.size
    scale = min(1.0, IMAGE_SIDE / max(width, height))
    if scale < 1.0:
        picture = picture.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), how


def _profile_records(profile: object, rows: list[dict]) -> dict | None:
    """Per row: latency and roofline numbers from a :class:`cnnlab.analysis.profile` result (its units are
    inspect's rows, matched by path in order); the machine's roof."""
    if profile is None:
        return None
    queue: dict[str, list[Any]] = {}
    for u in getattr(profile, "units", ()):
        queue.setdefault(u.path, []).append(u)
    for row in rows:
        found = queue.get(row["path"])
        if found:
            u = found.pop(0)
            row["prof"] = {"latency_s": u.latency_s, "intensity": u.intensity, "attainable_flops": u.attainable_flops,
                           "achieved_flops": u.achieved_flops, "share": u.share, "bound": u.bound,
                           "bytes": u.bytes}
    machine = profile.machine
    return {"latency_s": profile.latency_s, "peak_flops": machine.peak_flops,
            "bandwidth": machine.bandwidth_bytes_per_s,
            "ridge": machine.ridge_intensity, "method": getattr(profile, "method", "")}


def page_data(traced: Traced, image: object = None, profile: object = None,
              effective: dict | None = None, notes: list[str] | tuple[str, ...] = ()) -> dict:
    """Everything the page shows, as plain JSON-ready data (``effective``: the records of
    :func:`cnnlab.explore.effective.effective_records`)."""
    report = traced.report
    rows = [_row_record(r, x) for r, x in zip(report.rows, traced.rows, strict=True)]
    rf = report.receptive_field
    tree = build_tree(report, traced.rows)
    _group_outputs(tree, traced.outputs)
    data = {
        "model": report.model, "input": list(report.input_size), "traced_with": report.traced_with,
        "totals": {"params": report.params, "macs": report.macs, "flops": report.flops,
                   "activation_bytes": report.activation_bytes,
                   "rf": None if rf is None else {"r": list(rf.size), "jump": list(rf.jump), "start": list(rf.start),
                                                  "layer": rf.layer}},
        "warnings": list(report.warnings), "notes": list(notes), "rows": rows, "tree": tree,
        "image": None, "image_note": "no image given: a neutral grid stands for the input",
        "profile": _profile_records(profile, rows), "effective": None,
    }
    if image is not None:
        data["image"], data["image_note"] = _picture(image, report.input_size)
    if effective is not None:
        data["effective"] = effective
    return data


def _template(name: str) -> str:
    return resources.files("cnnlab.explore").joinpath(name).read_text(encoding="utf-8")


def render_page(data: dict) -> str:
    """The HTML page: the template with the style, the script and the data inlined."""
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")  # no "</script>" in the JSON
    parts = {"/*STYLE*/": _template("explore.css"), "/*SCRIPT*/": _template("explore.js"), "/*DATA*/": payload,
             "{{TITLE}}": html.escape(data["model"])}
    return re.sub(r"/\*(?:STYLE|SCRIPT|DATA)\*/|\{\{TITLE\}\}", lambda m: parts[m.group(0)],
                  _template("explore.html"))  # one pass: nothing inserted is read again


def _effective(model: nn.Module, traced: Traced, image: object, effective: object, weights: str) -> dict | None:
    """The page's effective fields: computed at the stage ends when asked (or, by default, when there is a
    picture and the model has real weights), taken as given when a dict of EffectiveField."""
    from cnnlab.explore.effective import effective_fields, effective_records, has_weights

    size = traced.report.input_size
    if isinstance(effective, dict):
        return effective_records(effective, weights)
    if effective is False or (effective is None and (image is None or not has_weights(model) or len(size) != 4)):
        return None
    if image is None or len(size) != 4:
        raise ConfigError("effective=True needs an image and a 2-D network (N x C x H x W input)")
    picture, _ = letterboxed(image, size)
    return effective_records(effective_fields(model, picture, size[1]), weights)


def build_page(model: nn.Module, input_size: object = None, image: object = None, name: str | None = None,
               profile: object = None, effective: object = None, notes: list[str] | tuple[str, ...] = (),
               weights: str = "the model's weights") -> str:
    """The explorer page of ``model`` as HTML text (arguments as :func:`explore`'s)."""
    from cnnlab.infer import example_input_size

    if not isinstance(model, nn.Module):
        raise ConfigError(f"explore needs an nn.Module, got {type(model).__name__}")
    size = example_input_size(model) if input_size is None else input_size
    traced = trace(model, size, name=name)
    records = _effective(model, traced, image, effective, weights)
    return render_page(page_data(traced, image=image, profile=profile, effective=records, notes=notes))


def explore(model: nn.Module, input_size: object = None, image: object = None, out: str | Path = "explore.html",
            name: str | None = None, profile: object = None, effective: object = None,
            notes: list[str] | tuple[str, ...] = (), weights: str = "the model's weights") -> Path:
    """Write the explorer page of ``model`` at ``input_size`` (default 1xCx224x224) to ``out``; its path.

    ``image``: a file or a PIL image, letterboxed to the input as ``cnnlab rf`` fits it (a neutral grid
    when None); ``profile``: a :func:`cnnlab.profile` result, shown per unit (latency, roofline);
    ``effective``: the effective receptive fields (Luo et al. 2016) of the stage ends on ``image`` — None:
    computed when there is an image and the model has real weights (not the meta device), True: required,
    False: never, or a ``{path: EffectiveField}`` dict from ``cnnlab.effective_receptive_field``;
    ``notes``: lines shown under the totals; ``weights``: where the weights came from, for the page's words.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"out {out} is an existing folder; give a file name, e.g. {out / 'explore.html'}")
    text = build_page(model, input_size, image, name, profile, effective, notes, weights)
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise ConfigError(f"cannot write the explorer page out={out}: {exc.strerror or exc}") from None
    return out
