"""One pass over the training data: forward, loss, backward, step, with running metrics."""

from __future__ import annotations

import time

import torch
from torch import nn

from cnnlab.data.memory import training_batches
from cnnlab.train.config import TrainConfig
from cnnlab.train.device import Runtime
from cnnlab.train.distributed import DistContext, all_reduce_sum
from cnnlab.train.progress import EpochProgress

__all__ = ["train_one_epoch"]

_SHOW_EVERY = 10  # batches between progress-bar refreshes (each one reads the running sums)


def train_one_epoch(
    net: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    runtime: Runtime,
    config: TrainConfig,
    ctx: DistContext,
    bar: EpochProgress,
) -> dict[str, float]:
    """Train for one epoch; returns ``train_loss``, ``train_acc``, ``images_per_second``, ``train_seconds``
    (wall clock, mean over processes) and ``train_cpu_seconds`` (CPU time of this process). The config's
    augmentation and progressive resizing apply here (``cnnlab.data.memory.training_batches``)."""
    device = runtime.device
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    net.train()
    batches, shown = len(loader), 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for step, (images, labels) in enumerate(training_batches(loader, config), 1):
        images = runtime.prepare(images)
        labels = labels.to(device, non_blocking=True)
        with runtime.autocast():
            logits = net(images)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if config.grad_clip_norm is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        with torch.no_grad():
            totals[0] += loss.detach() * labels.numel()
            totals[1] += (logits.argmax(1) == labels).sum()
            totals[2] += labels.numel()
        if bar.enabled and (step % _SHOW_EVERY == 0 or step == batches):
            loss_sum, correct, count = totals.tolist()
            rate = count * ctx.world_size / max(time.perf_counter() - start, 1e-9)
            bar.update(step - shown, loss_sum / count, correct / count, rate)
            shown = step
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    summed = all_reduce_sum(torch.cat([totals, totals.new_tensor([seconds])]), ctx).tolist()
    loss_sum, correct, count, seconds_sum = summed
    mean_seconds = seconds_sum / ctx.world_size
    return {
        "train_loss": loss_sum / max(count, 1),
        "train_acc": correct / max(count, 1),
        "images_per_second": count / max(mean_seconds, 1e-9),
        "train_seconds": mean_seconds,
        "train_cpu_seconds": cpu_seconds,  # this process's CPU time (all its threads)
    }
