"""Group report rows net → stage → block → unit by module path, as a rich Tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.tree import Tree

from cnnlab.analysis.render.report import Report, Row

__all__ = ["build_tree", "Group", "group_rows"]


@dataclass
class Group:
    name: str
    rows: list[Row] = field(default_factory=list)
    children: dict[str, Group] = field(default_factory=dict)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows) + sum(c.params for c in self.children.values())

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows) + sum(c.macs for c in self.children.values())

    def last_row(self) -> Row | None:
        last = self.rows[-1] if self.rows else None
        for c in self.children.values():
            r = c.last_row()
            last = r if r is not None else last
        return last


def _parts(path: str, nested_numbers: set[str]) -> list[str]:
    """Split a dotted path; ``stages.0`` stays one part when ``stages.0`` is a sequence of blocks."""
    raw = path.split(".")
    parts: list[str] = []
    i = 0
    while i < len(raw):
        if i + 1 < len(raw) and raw[i + 1].isdigit() and ".".join(raw[: i + 1]) in nested_numbers:
            parts.append(f"{raw[i]}.{raw[i + 1]}")
            i += 2
        else:
            parts.append(raw[i])
            i += 1
    return parts


def _nested_numbers(paths: list[str]) -> set[str]:
    """Prefixes X whose children X.N are themselves sequences X.N.M (e.g. ``stages`` of stages of blocks)."""
    found: set[str] = set()
    for path in paths:
        raw = path.split(".")
        for i in range(len(raw) - 2):
            if raw[i + 1].isdigit() and raw[i + 2].isdigit() and not raw[i].isdigit():
                found.add(".".join(raw[: i + 1]))
    return found


def group_rows(report: Report) -> Group:
    root = Group(report.model)
    nested = _nested_numbers([r.path for r in report.rows])
    for row in report.rows:
        parts = _parts(row.path, nested)
        node = root
        for part in parts[:-1]:
            node = node.children.setdefault(part, Group(part))
        node.rows.append(row)
    return root


def _label(name: str, params: int, macs: int, shape: tuple[int, ...] | None) -> str:
    shape_text = "x".join(map(str, shape)) if shape else "-"
    return f"[bold]{name}[/bold]  out {shape_text}  params {params:,}  MACs {macs:,}"


def _fill(tree: Tree, group: Group, depth: int | None, level: int) -> None:
    if depth is not None and level >= depth:
        return
    for child in group.children.values():
        last = child.last_row()
        branch = tree.add(_label(child.name, child.params, child.macs, last.output_shape if last else None))
        _fill(branch, child, depth, level + 1)
    for row in group.rows:
        rf = f"  RF {'x'.join(map(str, row.rf_size))}" if row.rf_size else ""
        note = f"  [yellow]{row.note}[/yellow]" if row.note else ""
        tree.add(f"{row.path.rsplit('.', 1)[-1]} [dim]{row.type}[/dim]  "
                 f"{'x'.join(map(str, row.output_shape or ()))}  params {row.params:,}  MACs {row.macs:,}{rf}{note}")


class PrintableTree(Tree):
    """A rich Tree that ``print()`` renders as text too (not as ``<rich.tree.Tree object>``)."""

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=120, color_system=None, highlight=False)
        with console.capture() as capture:
            console.print(self)
        return capture.get()


def build_tree(report: Report, depth: int | None = None) -> Tree:
    root = group_rows(report)
    last = root.last_row()
    tree = PrintableTree(_label(report.model, report.params, report.macs, last.output_shape if last else None))
    _fill(tree, root, depth, 0)
    return tree
