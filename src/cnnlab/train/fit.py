"""``fit``: train a model on a :class:`cnnlab.data.DataBundle`, checkpointing every epoch, resumable,
and data-parallel under ``torchrun`` (DistributedDataParallel; rank 0 alone writes files)."""

from __future__ import annotations

import copy
import dataclasses
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.data.bundle import DataBundle
from cnnlab.errors import ConfigError
from cnnlab.locks import hold_folder_lock
from cnnlab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    restore_rng_state,
    save_checkpoint,
    state_dict_mismatch,
)
from cnnlab.train.config import TrainConfig
from cnnlab.train.device import Runtime, resolve_runtime
from cnnlab.train.distributed import DistContext, broadcast_buffers, init_distributed
from cnnlab.train.ema import attach_ema
from cnnlab.train.epoch import train_one_epoch
from cnnlab.train.evaluate import evaluate_metrics, evaluation_model
from cnnlab.train.layout import choose_channels_last
from cnnlab.train.optim import build_optimizer, build_scheduler
from cnnlab.train.precise_bn import recompute_batchnorm_stats
from cnnlab.train.progress import EpochProgress
from cnnlab.train.result import TrainResult
from cnnlab.train.run_files import RunFiles, prepare_folder, require_free_space
from cnnlab.train.run_folder import checkpoint_bytes, open_run, run_identity

__all__ = ["fit", "EpochCallback"]

# called on every process after each epoch's checkpoint is written; returning True stops the run
EpochCallback = Callable[[int, dict[str, Any]], Any]


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # TrainConfig keeps seeds in numpy's [0, 2**32 - 1]
    random.seed(seed)


def _restore(state, model, optimizer, scheduler, scaler, path: Path) -> None:
    mismatch = state_dict_mismatch(model, state["model"])
    if mismatch:
        raise ConfigError(f"checkpoint {path} does not fit this model: {mismatch}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler.is_enabled() and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    restore_rng_state(state["rng"])


def _place(model: nn.Module, bundle, config: TrainConfig, runtime: Runtime, ctx: DistContext):
    """Model on the device (and layout); loaders sharded for this process, data order seeded."""
    model.to(runtime.device)
    if runtime.channels_last:
        model.to(memory_format=torch.channels_last)
    train = bundle.train.shard(ctx.rank, ctx.world_size)
    train.seed = config.seed
    evals = {k: v.shard(ctx.rank, ctx.world_size) for k, v in (("val", bundle.val), ("test", bundle.test))
             if v is not None}
    if runtime.device.type == "cuda":  # small datasets: keep the uint8 pixels on the GPU
        train = train.to(runtime.device)
        evals = {k: v.to(runtime.device) for k, v in evals.items()}
    return train, evals


def _choose_layout(model, train_loader, config, runtime: Runtime, ctx: DistContext, state) -> tuple[Runtime, str]:
    """``channels_last=None`` on CPU: the layout of ``cnnlab.train.layout``'s rule, or the one a resumed
    checkpoint recorded. Runs of several processes keep NCHW (gloo's gradient buckets are contiguous)."""
    if config.channels_last is not None or runtime.device.type != "cpu" or ctx.enabled:
        return runtime, ""
    if state is not None and "channels_last" in state:
        chosen, note = bool(state["channels_last"]), "layout from the checkpoint"
    else:
        with torch.random.fork_rng():  # building a batch must not shift the run's random stream
            images = next(iter(train_loader))[0]
        choice = choose_channels_last(model, images)
        chosen, note = choice.channels_last, choice.reason
    if chosen:
        model.to(memory_format=torch.channels_last)
    return dataclasses.replace(runtime, channels_last=chosen), note


def _wrap_ddp(model: nn.Module, runtime: Runtime, ctx: DistContext) -> nn.Module:
    if not ctx.enabled:
        return model
    ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def fit(
    model: nn.Module,
    bundle: DataBundle,
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train ``model`` (in place) on ``bundle.train``; validate each epoch, test once at the end.

    With ``out_dir``: writes ``config.json``, one line per epoch to ``metrics.jsonl``, an atomic
    ``checkpoint.pt`` after every epoch and ``result.json`` at the end. A folder that already holds a
    run of the same configuration (TrainConfig, model, data, processes) is continued from its
    checkpoint, with the same metrics as an uninterrupted run; a finished one trains nothing. A run of
    another configuration is refused with a ConfigError naming the differences (see
    ``cnnlab.train.run_folder``). ``overwrite=True`` deletes the folder's run and starts afresh;
    ``resume=True`` refuses to start afresh (a ConfigError when there is no checkpoint).
    ``on_epoch_end(epoch, record)`` runs after each checkpoint; returning True stops early.
    A bundle whose ``test`` is None skips the test evaluation (``test_acc`` is then None).
    """
    config = config if config is not None else TrainConfig()
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"fit: config must be a TrainConfig, got {type(config).__name__}")
    if resume and overwrite:
        raise ConfigError("fit: resume=True (--resume) and overwrite=True (--overwrite) exclude each other")
    if (resume or overwrite) and out_dir is None:
        raise ConfigError("fit: resume=True and overwrite=True need out_dir (the run folder)")
    ctx = init_distributed(want_cuda=config.device != "cpu")
    lock = _RunFolderLock()
    try:
        return _fit(model, bundle, config, out_dir, (resume, overwrite), progress, on_epoch_end, ctx, lock)
    finally:
        lock.release()
        ctx.close()


class _RunFolderLock:
    """One writer per run folder: a second process training into a folder that a live run is writing is
    refused (ConfigError naming the folder) instead of interleaving its checkpoints. Held from before the
    folder is read (when it exists) to the end of the run; dropped by the kernel if the process dies."""

    def __init__(self) -> None:
        self._held = None

    def hold(self, folder: Path) -> None:
        if self._held is None:
            self._held = hold_folder_lock(folder, f"run folder {str(folder)!r} is being written by another "
                                          "process; wait for it to finish or choose another folder")

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None


def _fit(model, bundle, config, out_dir, mode, progress, on_epoch_end, ctx, lock) -> TrainResult:
    runtime = resolve_runtime(config.device, config.amp, config.channels_last, ctx.local_rank)
    files = RunFiles(out_dir) if out_dir is not None else None
    writes = files is not None and ctx.is_main
    identity = run_identity(model, bundle)
    if writes and files.root.is_dir():
        lock.hold(files.root)  # before the folder's run is read (and, with overwrite, removed)
    state = None
    if files is not None:
        state = open_run(files, config, identity, ctx.world_size, *mode, removes=ctx.is_main)
    train_loader, eval_loaders = _place(model, bundle, config, runtime, ctx)
    if len(train_loader) == 0:
        raise ConfigError(f"fit: batch_size={config.batch_size} leaves no full training batch")
    runtime, layout_note = _choose_layout(model, train_loader, config, runtime, ctx, state)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, len(train_loader))
    scaler = runtime.scaler()
    # the weights' EMA (config.ema_decay) rides on the optimizer: updated after each step, saved with its state
    ema = attach_ema(model, optimizer, config)
    evaluated = evaluation_model(model, ema, config)

    history: list[dict[str, Any]] = []
    if state is not None:
        _restore(state, model, optimizer, scheduler, scaler, files.checkpoint)
        history = list(state["history"])
    else:
        _seed_everything(config.seed)
    resumed_epochs = len(history)
    finished = state is not None and state["epoch"] >= config.epochs
    net = _wrap_ddp(model, runtime, ctx)
    if writes and not finished:
        prepare_folder(files.root, "run folder")
        lock.hold(files.root)
        files.write_json(files.config, {"config": config.to_dict(), "model": type(model).__name__,
                                        "data": bundle.name, "world_size": ctx.world_size,
                                        "identity": identity})  # fmt: skip
        files.reset_metrics(history)
        require_free_space(files.root, checkpoint_bytes(model, config), "a checkpoint of this model")

    started = time.perf_counter()
    with EpochProgress(progress and ctx.is_main, config.epochs) as bar:
        if finished:
            bar.note(f"{files.root} holds this run, finished after epoch {state['epoch']}: nothing to train")
        elif state is not None:
            bar.note(f"resuming {files.checkpoint} after epoch {state['epoch']}")
        if layout_note:
            bar.note(layout_note)
        for epoch in range(len(history) + 1, config.epochs + 1):
            train_loader.set_epoch(epoch)
            bar.start_epoch(epoch, len(train_loader))
            steps = (optimizer, scheduler, scaler)
            record = _run_epoch(epoch, net, evaluated, train_loader, eval_loaders.get("val"), steps, runtime, config, ctx, bar)
            history.append(record)
            bar.end_epoch(_summary(record))
            if writes:
                save_checkpoint(files.checkpoint, _checkpoint_state(epoch, model, optimizer, scheduler, scaler,
                                                                    config, runtime, ctx, history, identity,
                                                                    None if ema is None else ema.module))  # fmt: skip
                files.append_metrics(record)
            if on_epoch_end is not None and on_epoch_end(epoch, dict(record)) is True:
                break
        test = {"acc": None, "loss": None}
        if "test" in eval_loaders:
            broadcast_buffers(model, ctx)
            test = evaluate_metrics(evaluated, eval_loaders["test"], runtime, ctx)
    result = _result(history, test, config, runtime, ctx, files, time.perf_counter() - started)
    result.resumed_epochs = resumed_epochs
    if writes and not (finished and files.result.is_file()):
        files.write_json(files.result, result.to_dict())
    return result


def _run_epoch(epoch, net, model, train_loader, val_loader, steps, runtime, config, ctx, bar) -> dict[str, Any]:
    """Train one epoch, then validate; the epoch's line of ``metrics.jsonl``."""
    start = time.perf_counter()
    optimizer, scheduler, scaler = steps
    record: dict[str, Any] = {"epoch": epoch}
    record.update(train_one_epoch(net, train_loader, optimizer, scheduler, scaler, runtime, config, ctx, bar))
    if config.precise_bn_batches:
        images = (runtime.prepare(x) for x, _ in train_loader)
        record["precise_bn_batches"] = recompute_batchnorm_stats(model, images, config.precise_bn_batches)
    broadcast_buffers(model, ctx)
    if val_loader is not None:
        val = evaluate_metrics(model, val_loader, runtime, ctx)
        record.update(val_loss=val["loss"], val_acc=val["acc"])
    record["lr"] = optimizer.param_groups[0]["lr"]
    record["epoch_seconds"] = time.perf_counter() - start
    return record


def _checkpoint_state(epoch, model, optimizer, scheduler, scaler, config, runtime, ctx, history, identity,
                      averaged=None) -> dict[str, Any]:  # fmt: skip
    """Everything a resume needs; with an EMA of the weights (``averaged``), also ``state_dict``: the weights the
    run's accuracy was measured with, which readers of a weights file (cnnlab.nets.weights, ``export``) take
    before ``model`` (the raw weights, kept for the resume)."""
    extra = {} if averaged is None else {"state_dict": averaged.state_dict()}
    return extra | {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model_name": getattr(model, "model_name", None),  # the registered name, when built by create_model
        # the spec with its builder arguments, when built by create_model_from_spec (export rebuilds it)
        "model_spec": getattr(model, "model_spec", None),
        "identity": identity,  # model and data of the run (cnnlab.train.run_folder)
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        # the data order of epoch e is rebuilt from (seed, e): see cnnlab.data.loader
        "rng": capture_rng_state(),
        "data_order": {"seed": config.seed, "next_epoch": epoch + 1},
        "config": config.to_dict(),
        "world_size": ctx.world_size,
        "channels_last": runtime.channels_last,  # the layout in use (a resumed run keeps a measured choice)
        "history": copy.deepcopy(history),
    }


def _summary(record: dict[str, Any]) -> str:
    text = f"loss {record['train_loss']:.4f}  acc {record['train_acc']:.4f}"
    if "val_acc" in record:
        text += f"  val_acc {record['val_acc']:.4f}"
    return text + f"  {record['images_per_second']:,.0f} img/s"


def _result(history, test, config, runtime, ctx, files, seconds) -> TrainResult:
    val_accs = [(h["val_acc"], h["epoch"]) for h in history if "val_acc" in h]
    best_acc, best_epoch = max(val_accs, key=lambda t: t[0]) if val_accs else (None, None)
    rates = [h["images_per_second"] for h in history]
    return TrainResult(
        history=history,
        best_val_acc=best_acc,
        best_epoch=best_epoch,
        test_acc=test["acc"],
        test_loss=test["loss"],
        images_per_second=statistics.median(rates) if rates else 0.0,
        epochs=len(history),
        seconds=seconds,
        config=config.to_dict(),
        device=str(runtime.device),
        world_size=ctx.world_size,
        channels_last=runtime.channels_last,
        out_dir=None if files is None else str(files.root),
        checkpoint_path=None if files is None else str(files.checkpoint),
    )
