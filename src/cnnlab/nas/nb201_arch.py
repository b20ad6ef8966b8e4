"""NAS-Bench-201 cells as arch strings (Dong & Yang, ICLR 2020, arXiv:2001.00326, Sec. 2.1), in pure Python.

A cell is a DAG of 4 nodes; node 0 is the cell input, node 3 its output, and every node is the sum of one
op per edge from each earlier node (6 edges). Its arch string lists the edges node by node:
``|o01~0|+|o02~0|o12~1|+|o03~0|o13~1|o23~2|`` with ops from :data:`NB201_OPS`; 5^6 = 15,625 cells.
"""

from __future__ import annotations

from typing import Any

from cnnlab.errors import ConfigError

__all__ = ["NB201_OPS", "NB201_EDGES", "NB201_CELLS", "parse_arch", "format_arch", "arch_code", "arch_from_code",
           "validate_nb201", "nb201_params"]

# the benchmark's op list, in its order (NB201 paper Sec. 2.1; README of the table)
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# edges (from, to) in the order the arch string lists them
NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NB201_CELLS = len(NB201_OPS) ** len(NB201_EDGES)  # 15,625


def parse_arch(arch: object, where: str = "nb201 arch") -> tuple[str, ...]:
    """The six edge ops of an arch string, in :data:`NB201_EDGES` order; ConfigError naming what is wrong."""
    if not isinstance(arch, str):
        raise ConfigError(f"{where} must be a string like '|nor_conv_3x3~0|+|...|', got {arch!r}")
    text = arch.strip()
    groups = text.split("+")
    if len(groups) != 3:
        raise ConfigError(f"{where} {arch!r} is malformed: expected 3 groups joined by '+' (the inputs of "
                          f"nodes 1, 2, 3), got {len(groups)}")
    ops: list[str] = []
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
            raise ConfigError(f"{where} {arch!r} is malformed: node {node}'s group {group!r} must read "
                              f"'|op~0|...|'")
        items = group[1:-1].split("|")
        if len(items) != node:
            raise ConfigError(f"{where} {arch!r} is malformed: node {node} must list {node} input(s) "
                              f"('|op~0|' ... '|op~{node - 1}|'), got {len(items)} in {group!r}")
        for source, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(source):
                raise ConfigError(f"{where} {arch!r} is malformed: input {source} of node {node} must read "
                                  f"'op~{source}', got {item!r}")
            if op not in NB201_OPS:
                raise ConfigError(f"{where} {arch!r}: unknown op {op!r} on edge {source}->{node}; "
                                  f"known ops: {list(NB201_OPS)}")
            ops.append(op)
    return tuple(ops)


def format_arch(ops: tuple[str, ...] | list[str]) -> str:
    """The canonical arch string of six edge ops (inverse of :func:`parse_arch`)."""
    if len(ops) != len(NB201_EDGES) or any(op not in NB201_OPS for op in ops):
        raise ConfigError(f"nb201 cell needs {len(NB201_EDGES)} ops from {list(NB201_OPS)}, got {list(ops)!r}")
    groups = [[f"{op}~{i}" for op, (i, j) in zip(ops, NB201_EDGES, strict=True) if j == node] for node in (1, 2, 3)]
    return "+".join("|" + "|".join(g) + "|" for g in groups)


def arch_code(ops: tuple[str, ...] | list[str]) -> int:
    """The cell as a base-5 number, edge 0->1 the most significant digit (the search's tokens read as one
    number); not the benchmark's index (:class:`cnnlab.nas.nb201_table.NB201Table` maps between them)."""
    code = 0
    for op in ops:
        code = code * len(NB201_OPS) + NB201_OPS.index(op)
    return code


def arch_from_code(code: int) -> tuple[str, ...]:
    """Inverse of :func:`arch_code`."""
    if not 0 <= int(code) < NB201_CELLS:
        raise ConfigError(f"nb201 cell code must be in 0..{NB201_CELLS - 1}, got {code!r}")
    digits = []
    for _ in NB201_EDGES:
        code, digit = divmod(int(code), len(NB201_OPS))
        digits.append(NB201_OPS[digit])
    return tuple(reversed(digits))


def validate_nb201(genotype: object) -> dict[str, Any]:
    """``{"space": "nb201", "arch": "|...|"}`` checked, with the canonical arch string."""
    if not isinstance(genotype, dict) or set(genotype) - {"space", "arch"} or "arch" not in genotype:
        raise ConfigError(f"nb201 genotype must be {{'space': 'nb201', 'arch': '|op~0|+|...|'}}, got {genotype!r}")
    if genotype.get("space", "nb201") != "nb201":
        raise ConfigError(f"nb201 genotype 'space' must be 'nb201', got {genotype['space']!r}")
    return {"space": "nb201", "arch": format_arch(parse_arch(genotype["arch"], "nb201 genotype arch"))}


def nb201_params(arch: str, num_classes: int = 10, in_chans: int = 3, C: int = 16, N: int = 5) -> int:
    """Parameters of the network of ``arch`` by formula (every conv edge counts, dead or not): stem conv + BN,
    per cell 9c² + 2c per 3x3 conv edge and c² + 2c per 1x1, the two reductions (two 3x3 convs + BN and a
    1x1 shortcut each), the head's BN and linear."""
    ops = parse_arch(arch)
    n3, n1 = ops.count("nor_conv_3x3"), ops.count("nor_conv_1x1")
    widths = (C, 2 * C, 4 * C)
    cells = N * sum(n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c) for c in widths)
    reductions = sum(9 * a * b + 2 * b + 9 * b * b + 2 * b + a * b for a, b in zip(widths, widths[1:], strict=False))
    return 9 * in_chans * C + 2 * C + cells + reductions + 2 * 4 * C + 4 * C * num_classes + num_classes
