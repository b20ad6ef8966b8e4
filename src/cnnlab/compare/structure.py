"""A network as the lecture draws it: stem → stages → head, each a column of blocks with shapes.

Read from a real forward pass with hooks on the stem, on every block of ``model.stages`` and on the
remaining top-level children (the head). A model without ``stages`` (any ``nn.Module``) is drawn
with each top-level child as a group and that child's own children as its blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.analysis.rules.base import first_tensor

__all__ = ["BlockBox", "GroupBox", "describe_structure"]


@dataclass
class BlockBox:
    """One block (or unit) of a group with the shapes it saw, batch dimension dropped."""

    path: str
    kind: str
    params: int
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()

    @property
    def stride(self) -> int | None:
        """Spatial down-sampling factor of the block, when both shapes are 3-D (C, H, W)."""
        if len(self.in_shape) == 3 and len(self.out_shape) == 3 and self.out_shape[1] > 0:
            return max(1, round(self.in_shape[1] / self.out_shape[1]))
        return None


@dataclass
class GroupBox:
    """The stem, one stage, or the head: a named column of blocks."""

    name: str
    role: str  # "stem" | "stage" | "head"
    blocks: list[BlockBox] = field(default_factory=list)
    out_shape: tuple[int, ...] = ()

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _leaf_or_children(prefix: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    children = list(module.named_children())
    if not children:
        return [(prefix, module)]
    return [(f"{prefix}.{name}", child) for name, child in children]


def _groups(model: nn.Module) -> list[tuple[GroupBox, list[tuple[str, nn.Module]]]]:
    stages = getattr(model, "stages", None)
    groups: list[tuple[GroupBox, list[tuple[str, nn.Module]]]] = []
    if isinstance(stages, nn.Module) and len(list(stages.children())) > 0:
        for name, child in model.named_children():
            if name == "stages":
                for stage_name, stage in stages.named_children():
                    path = f"stages.{stage_name}"
                    groups.append((GroupBox(path, "stage"), _leaf_or_children(path, stage)))
            else:
                role = "stem" if name == "stem" else "head"
                groups.append((GroupBox(name, role), _leaf_or_children(name, child)))
        return groups
    run: list[tuple[str, nn.Module]] = []  # consecutive single-unit children drawn as one group

    def flush() -> None:
        if run:
            name = run[0][0] if len(run) == 1 else f"{run[0][0]} … {run[-1][0]}"
            groups.append((GroupBox(name, "stage"), list(run)))
            run.clear()

    for name, child in model.named_children():
        if next(child.children(), None) is None:
            run.append((name, child))
            continue
        flush()
        groups.append((GroupBox(name, "stage"), _leaf_or_children(name, child)))
    flush()
    return groups


def describe_structure(model: nn.Module, input_shape: tuple[int, ...]) -> list[GroupBox]:
    """Groups (stem, stages, head) with their blocks and shapes, from one forward of ``input_shape``.

    Blocks that the forward pass never reaches (an auxiliary classifier in eval mode) keep empty
    shapes. The model's mode and hooks are left as they were.
    """
    groups = _groups(model)
    handles = []
    boxes: dict[int, BlockBox] = {}
    for group, members in groups:
        for path, module in members:
            box = BlockBox(path=path, kind=type(module).__name__, params=_params(module))
            group.blocks.append(box)
            boxes[id(module)] = box

            def hook(mod: nn.Module, args: tuple, out: object, box: BlockBox = box) -> None:
                x, y = first_tensor(args), first_tensor(out)
                if x is not None and not box.in_shape:
                    box.in_shape = tuple(x.shape[1:])
                if y is not None:
                    box.out_shape = tuple(y.shape[1:])

            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(torch.zeros(*input_shape))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    for group, _ in groups:
        reached = [b for b in group.blocks if b.out_shape]
        group.out_shape = reached[-1].out_shape if reached else ()
    return [group for group, _ in groups]
