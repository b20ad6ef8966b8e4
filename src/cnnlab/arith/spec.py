"""A readable text form of a layer chain, e.g. ``"conv k3 s2 p1, pool k2 s2, conv k3 d2"``.

Grammar: layers separated by commas; each layer is a kind followed by options in any order.

- kinds: ``conv``; ``pool`` (``maxpool``, ``avgpool``); ``deconv`` (``tconv``, ``transposed``);
  ``up`` (``upsample``).
- options: ``k3`` kernel, ``s2`` stride (the scale factor for ``up``), ``p1`` padding, ``d2``
  dilation, ``op1`` output padding (``deconv``); each may be written ``k=3`` and may be a pair
  ``k3x1`` (height x width); flags ``ceil`` (ceil mode, ``pool``), ``nearest`` / ``bilinear`` (``up``).

Unspecified values default to ``k1 s1 p0 d1`` (pooling: stride = kernel).
"""

from __future__ import annotations

import re

from cnnlab.arith.receptive_field import Layer
from cnnlab.errors import ConfigError

__all__ = ["parse_layers", "format_layer"]

_KIND_ALIASES = {
    "conv": "conv",
    "pool": "pool",
    "maxpool": "pool",
    "avgpool": "pool",
    "deconv": "deconv",
    "tconv": "deconv",
    "transposed": "deconv",
    "up": "upsample",
    "upsample": "upsample",
}
_OPTION = re.compile(r"^(k|s|p|d|op)=?(\d+)(?:x(\d+))?$")
_FIELDS = {"k": "k", "s": "s", "p": "p", "d": "d", "op": "output_padding"}


def _parse_layer(text: str, index: int) -> Layer:
    where = f"layer {index} {text!r}"
    words = text.split()
    if not words:
        raise ConfigError(f"spec: {where} is empty")
    kind = _KIND_ALIASES.get(words[0].lower())
    if kind is None:
        raise ConfigError(f"spec: {where}: unknown layer kind {words[0]!r}, expected one of {sorted(_KIND_ALIASES)}")
    fields: dict[str, object] = {"kind": kind, "name": f"{words[0].lower()}{index}"}
    for word in words[1:]:
        token = word.lower()
        match = _OPTION.match(token)
        if match:
            key, first, second = match.groups()
            fields[_FIELDS[key]] = int(first) if second is None else (int(first), int(second))
        elif token == "ceil" and kind == "pool":
            fields["ceil_mode"] = True
        elif token in ("nearest", "bilinear") and kind == "upsample":
            fields["mode"] = token
        else:
            raise ConfigError(f"spec: {where}: bad token {word!r} for a {kind} layer")
    if kind == "pool" and "s" not in fields:
        fields["s"] = fields.get("k", 1)
    return Layer(**fields)  # type: ignore[arg-type]


def parse_layers(spec: str) -> list[Layer]:
    """Parse ``"conv k3 s2 p1, conv k3 s2 p1"`` into :class:`Layer` objects (ConfigError on bad tokens)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"spec: expected a layer list such as 'conv k3 s2 p1, pool k2', got {spec!r}")
    return [_parse_layer(part.strip(), i) for i, part in enumerate(spec.split(","), start=1)]


def _option(letter: str, value: object) -> str:
    return f"{letter}{value[0]}x{value[1]}" if isinstance(value, tuple) else f"{letter}{value}"


def format_layer(layer: Layer) -> str:
    """The spec form of one layer: ``format_layer(Layer(k=3, s=2, p=1)) == "conv k3 s2 p1"``."""
    if layer.kind == "upsample":
        return f"up {_option('s', layer.s)} {layer.mode}"
    parts = [layer.kind, _option("k", layer.k), _option("s", layer.s), _option("p", layer.p)]
    if layer.d != 1:
        parts.append(_option("d", layer.d))
    if layer.output_padding != 0:
        parts.append(_option("op", layer.output_padding))
    if layer.ceil_mode:
        parts.append("ceil")
    return " ".join(parts)
