"""The explorer's tree: report rows grouped net → stage → block → unit, each group's items as a small graph,
and runs of identical blocks collapsed into one "× n" item.

**Which blocks collapse**: consecutive sibling groups (never single units) whose *signature* is equal — the
same units in the same order, each with the same path relative to its block, type, input shape, output
shape, params and MACs, reading the same units of the block (or the block's input) — and that form a chain:
each reads nothing from outside itself but the block before it (two equal parallel branches, such as a
bottleneck's last 1x1 conv and its 1x1 projection shortcut, stay apart). ResNet-50's first
stage (He et al. 2016, Table 1: three bottlenecks) is block 0 (64 input channels, a projection shortcut)
followed by "× 2" of blocks 1-2 (256 input channels, identity shortcut).

**The graph of a group**: an edge a → b between two of its items when a unit of b reads a unit of a (views,
reshapes and other ops without a row are seen through); an item reading from outside the group reads the
group's input. Each item's layer is the longest path to it from the group's input, so parallel branches
(an Inception block's, a residual block's projection shortcut) sit side by side in one layer.
"""

from __future__ import annotations

from cnnlab.analysis.render.report import Report
from cnnlab.analysis.render.tree import Group, group_rows
from cnnlab.explore.trace import INPUT, TracedRow

__all__ = ["build_tree", "signature"]


def _row_ids(group: Group, index: dict[int, int]) -> list[int]:
    ids = [index[id(r)] for r in group.rows]
    for child in group.children.values():
        ids += _row_ids(child, index)
    return sorted(ids)


class _Builder:
    def __init__(self, report: Report, extras: list[TracedRow]) -> None:
        self.report, self.extras = report, extras
        self.index = {id(r): i for i, r in enumerate(report.rows)}

    def signature(self, ids: list[int], prefix: str) -> tuple:
        first, members = ids[0], set(ids)
        sig = []
        for i in ids:
            row, extra = self.report.rows[i], self.extras[i]
            rel = row.path[len(prefix):] if row.path.startswith(prefix) else row.path
            reads = tuple(sorted(r - first if r in members else -1 for r in extra.reads))  # -1: outside
            sig.append((rel, row.type, extra.in_shape, row.output_shape, row.params, row.macs, reads))
        return tuple(sig)

    def group(self, group: Group, path: str) -> dict:
        """One group item: its items (units, groups, repeats) in execution order, their graph."""
        entries: list[tuple[int, dict, list[int]]] = []
        for row in group.rows:
            i = self.index[id(row)]
            entries.append((i, {"t": "u", "id": i}, [i]))
        for name, child in group.children.items():
            ids = _row_ids(child, self.index)
            if ids:
                child_path = f"{path}.{name}" if path else name
                entries.append((ids[0], self.group(child, child_path), ids))
        entries.sort(key=lambda e: e[0])
        items, members = self._collapse(entries)
        ids = sorted(i for m in members for i in m)
        node = {"t": "g", "name": group.name, "path": path, "items": items, "first": ids[0], "last": ids[-1],
                "params": sum(self.report.rows[i].params for i in ids),
                "macs": sum(self.report.rows[i].macs for i in ids),
                "flops": sum(self.report.rows[i].flops for i in ids), "units": len(ids)}
        node.update(self._graph(members))
        node["sig"] = self.signature(ids, f"{path}." if path else "")
        return node

    def _collapse(self, entries: list[tuple[int, dict, list[int]]]) -> tuple[list[dict], list[list[int]]]:
        items: list[dict] = []
        members: list[list[int]] = []
        k = 0
        while k < len(entries):
            _, item, ids = entries[k]
            run = k + 1
            if item["t"] == "g":
                while (run < len(entries) and entries[run][1]["t"] == "g" and entries[run][1]["sig"] == item["sig"]
                       and self._follows(entries[run][2], entries[run - 1][2])):
                    run += 1
            if run - k >= 2:
                group_items = [e[1] for e in entries[k:run]]
                all_ids = sorted(i for e in entries[k:run] for i in e[2])
                items.append({"t": "r", "n": run - k, "items": group_items, "first": all_ids[0], "last": all_ids[-1],
                              "params": sum(g["params"] for g in group_items),
                              "macs": sum(g["macs"] for g in group_items),
                              "flops": sum(g["flops"] for g in group_items),
                              "units": sum(g["units"] for g in group_items)})
                members.append(all_ids)
            else:
                items.append(item)
                members.append(ids)
            k = run
        return items, members

    def _follows(self, ids: list[int], before: list[int]) -> bool:
        """Whether the rows ``ids`` read nothing from outside but the rows ``before`` (a chain, not branches)."""
        own, prev = set(ids), set(before)
        outside = {r for i in ids for r in self.extras[i].reads if r not in own}
        return bool(outside) and outside <= prev

    def _graph(self, members: list[list[int]]) -> dict:
        owner = {i: n for n, ids in enumerate(members) for i in ids}
        edges: set[tuple[int, int]] = set()
        reads_input: list[int] = []
        for n, ids in enumerate(members):
            outside = False
            for i in ids:
                for r in self.extras[i].reads:
                    a = owner.get(r) if r != INPUT else None
                    if a is None:
                        outside = True
                    elif a != n:
                        edges.add((a, n))
            if outside:
                reads_input.append(n)
        layer = [0] * len(members)
        for _ in range(len(members)):  # longest path; bounded, should interleaved items read each other
            moved = False
            for a, b in edges:
                if layer[b] < layer[a] + 1 < len(members):
                    layer[b], moved = layer[a] + 1, True
            if not moved:
                break
        return {"edges": sorted(map(list, edges)), "ins": reads_input, "layers": layer}


def signature(report: Report, extras: list[TracedRow], ids: list[int], prefix: str) -> tuple:
    """The collapse signature of the rows ``ids`` of a block whose path is ``prefix`` (ending in '.')."""
    return _Builder(report, extras).signature(ids, prefix)


def _strip(node: dict) -> dict:
    node.pop("sig", None)
    for item in node.get("items", ()):
        _strip(item)
    return node


def build_tree(report: Report, extras: list[TracedRow]) -> dict:
    """The net's group item (``t`` = "g"), nested; units are ``{"t": "u", "id": row index}``."""
    root = group_rows(report)
    root.name = report.model
    if not report.rows:
        return {"t": "g", "name": report.model, "path": "", "items": [], "first": 0, "last": -1, "params": 0,
                "macs": 0, "flops": 0, "units": 0, "edges": [], "ins": [], "layers": []}
    return _strip(_Builder(report, extras).group(root, ""))
