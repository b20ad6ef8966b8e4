"""Every ``torch.load`` in cnnlab passes ``weights_only=True``: an unsafe load of a planted file runs
arbitrary code. The scan reads the source with ``ast``, so no call site escapes by not
being exercised by a test."""

from __future__ import annotations

import ast
from pathlib import Path

import cnnlab

SOURCE = Path(cnnlab.__file__).parent


def _torch_aliases(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to the torch module (``import torch as t``) and to ``torch.load`` itself."""
    modules, loads = {"torch"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "torch"}
        elif isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            loads |= {a.asname or a.name for a in node.names if a.name == "load"}
    return modules, loads


def _is_torch_load(func: ast.expr, modules: set[str], loads: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in loads
    if not (isinstance(func, ast.Attribute) and func.attr == "load"):
        return False
    owner = func.value
    if isinstance(owner, ast.Attribute) and owner.attr == "serialization":  # torch.serialization.load
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id in modules


def unsafe_loads(source: str, filename: str = "<string>") -> list[str]:
    """``file:line`` of every torch.load call without a literal ``weights_only=True``."""
    tree = ast.parse(source, filename)
    modules, loads = _torch_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_torch_load(node.func, modules, loads):
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            if not safe:
                found.append(f"{filename}:{node.lineno}")
    return found


def test_the_scan_finds_unsafe_loads():
    assert unsafe_loads("import torch\ntorch.load('a')\n") == ["<string>:2"]
    assert unsafe_loads("import torch as t\nt.load('a', weights_only=False)\n") == ["<string>:2"]
    assert unsafe_loads("from torch import load\nload('a')\n") == ["<string>:2"]
    assert unsafe_loads("import torch\ntorch.serialization.load('a', weights_only=flag)\n") == ["<string>:2"]
    assert unsafe_loads("import torch\ntorch.load('a', map_location='cpu', weights_only=True)\n") == []
    assert unsafe_loads("import json\njson.load(f)\n") == []


def test_every_torch_load_in_cnnlab_is_weights_only():
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 50  # the package was found
    found = [hit for path in files for hit in unsafe_loads(path.read_text(encoding="utf-8"),
                                                            str(path.relative_to(SOURCE.parent)))]
    assert found == [], f"torch.load without weights_only=True: {found}"
