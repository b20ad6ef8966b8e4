"""NASNet cell genotypes as plain JSON (Zoph et al. 2018, Fig. 3 and 4).

A genotype names the two cells of a NASNet-style network::

    {"space": "nasnet",
     "normal":    [{"inputs": [0, 1], "ops": ["sep_conv_3x3", "identity"]}, ...],
     "reduction": [{"inputs": [0, 1], "ops": ["max_pool_3x3", "sep_conv_7x7"]}, ...]}

Block ``b`` of a cell reads two of the cell's hidden states: 0 is the previous-previous cell's
output, 1 the previous cell's, ``2 + j`` the output of block ``j < b``. Validation raises
:class:`cnnlab.ConfigError` naming the cell, the block and the bad value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_text
from cnnlab.errors import ConfigError
from cnnlab.nas.ops import OP_NAMES

__all__ = ["CELL_KINDS", "validate_genotype", "read_genotype_json", "load_genotype", "save_genotype",
           "write_best_genotype", "unused_states"]

CELL_KINDS = ("normal", "reduction")


def _validate_block(cell: str, index: int, block: object) -> dict[str, Any]:
    where = f"genotype {cell} cell block {index}"
    if not isinstance(block, dict) or set(block) != {"inputs", "ops"}:
        raise ConfigError(f"{where}: expected {{'inputs': [i, j], 'ops': [op, op]}}, got {block!r}")
    inputs, ops = block["inputs"], block["ops"]
    if not isinstance(inputs, list | tuple) or len(inputs) != 2:
        raise ConfigError(f"{where}: 'inputs' must be two state indices, got {inputs!r}")
    if not isinstance(ops, list | tuple) or len(ops) != 2:
        raise ConfigError(f"{where}: 'ops' must be two op names, got {ops!r}")
    for value in inputs:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 + index:
            raise ConfigError(
                f"{where}: input index {value!r} out of range 0..{1 + index} "
                f"(0, 1 = the two previous cells, 2.. = earlier blocks)"
            )
    for op in ops:
        if op not in OP_NAMES:
            raise ConfigError(f"{where}: unknown op {op!r}; known ops: {list(OP_NAMES)}")
    return {"inputs": [int(i) for i in inputs], "ops": [str(o) for o in ops]}


def validate_genotype(genotype: object) -> dict[str, Any]:
    """Check a NASNet genotype and return a normalised plain-data copy of it."""
    if not isinstance(genotype, dict):
        raise ConfigError(f"genotype must be a JSON object, got {type(genotype).__name__}")
    space = genotype.get("space", "nasnet")
    if space != "nasnet":
        raise ConfigError(f"genotype 'space' must be 'nasnet' for a NASNet network, got {space!r}")
    unknown = set(genotype) - {"space", *CELL_KINDS}
    if unknown:
        raise ConfigError(f"genotype has unknown keys {sorted(unknown)}; expected {list(CELL_KINDS)}")
    out: dict[str, Any] = {"space": "nasnet"}
    for cell in CELL_KINDS:
        blocks = genotype.get(cell)
        if not isinstance(blocks, list) or not blocks:
            raise ConfigError(f"genotype {cell!r} cell must be a non-empty list of blocks, got {blocks!r}")
        out[cell] = [_validate_block(cell, i, b) for i, b in enumerate(blocks)]
    return out


def unused_states(blocks: list[dict[str, Any]]) -> list[int]:
    """Hidden states of block outputs no later block reads: the cell concatenates them."""
    used = {i for b in blocks for i in b["inputs"]}
    return [2 + j for j in range(len(blocks)) if 2 + j not in used]


def read_genotype_json(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """A genotype of any space (nasnet, randwire, micro) from a dict, a JSON file path or a JSON
    string, not yet validated; ConfigError when it is none of these or not a JSON object."""
    if isinstance(source, dict):
        return source
    text = str(source)
    if text.lstrip().startswith("{"):
        where = "genotype JSON string"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where} does not parse: {exc}") from None
    else:
        where, path = f"genotype file {text!r}", Path(text)
        if not path.is_file():
            raise ConfigError(f"{where} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} cannot be read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a JSON object, got {type(data).__name__}")
    return data


def load_genotype(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """A NASNet genotype from a dict, a JSON file path, or a JSON string; validated."""
    return validate_genotype(read_genotype_json(source))


def save_genotype(genotype: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a validated genotype as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(validate_genotype(genotype), indent=2) + "\n")


def write_best_genotype(path: str | os.PathLike[str], genotype: dict[str, Any]) -> Path:
    """Write a search's best genotype (any space) as indented JSON, atomically: the file
    ``create_model(..., genotype=path)`` and ``compare NAME:genotype=path`` read."""
    return atomic_write_text(path, json.dumps(genotype, indent=2) + "\n")
