"""DistributedDataParallel plumbing: join the process group ``torchrun`` describes, reduce metrics.

Under ``torchrun`` (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT`` in the
environment) the process group is created with gloo on CPU or nccl on CUDA; without them the run is
a single process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "init_distributed", "all_reduce_sum", "broadcast_buffers"]


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    created_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group if this run created it."""
        if self.created_group and dist.is_initialized():
            dist.destroy_process_group()
            self.created_group = False


def init_distributed(want_cuda: bool) -> DistContext:
    """Join (or reuse) the process group when the environment asks for more than one process."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return DistContext(dist.get_rank(), dist.get_world_size(), local, created_group=False)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 or not dist.is_available():
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if want_cuda and torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, created_group=True)


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a tensor over processes (in place on a copy; float64 keeps counts exact)."""
    if not ctx.enabled:
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def broadcast_buffers(model: torch.nn.Module, ctx: DistContext) -> None:
    """Give every process rank 0's buffers (batch-norm running statistics) before evaluating."""
    if ctx.enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)
