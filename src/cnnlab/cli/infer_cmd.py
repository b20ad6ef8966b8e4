"""``cnnlab export``: a registered network (optionally with a checkpoint) to ONNX, checked by onnxruntime.

A training checkpoint (``cnnlab train``'s ``checkpoint.pt``, or its run folder) says which network it holds
and what it was trained on: the model spec, its input channels, classes and image size. The network is
rebuilt from those, so a model trained on grey 32x32 images exports as one without any flag.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.errors import ConfigError

__all__ = ["CheckpointFacts", "checkpoint_facts", "export_command", "register"]

# where a checkpoint may record which network it holds: the full spec first (with builder arguments), then names
MODEL_NAME_KEYS = ("model_spec", "model_name", "arch", "model")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")
RUN_CHECKPOINT = "checkpoint.pt"  # what `cnnlab train --out FOLDER` writes


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``cnnlab`` app."""
    app.command("export")(export_command)


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint records about the network in it (None: not recorded)."""

    spec: str | None
    in_chans: int | None
    num_classes: int | None
    image_size: tuple[int, ...] | None


def _read(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling and zip errors of every kind
        from cnnlab.nets.weights import unreadable_reason

        raise ConfigError(f"checkpoint {str(path)!r} could not be read as a torch file: "
                          f"{unreadable_reason(path, exc)}") from None


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def checkpoint_facts(loaded: object) -> CheckpointFacts:
    """The model spec, input channels, classes and image size a checkpoint records: top level, in its
    ``config`` or in the run ``identity`` that ``cnnlab train`` stores."""
    if not isinstance(loaded, dict):
        return CheckpointFacts(None, None, None, None)
    places = [p for p in (loaded, loaded.get("identity"), loaded.get("config")) if isinstance(p, dict)]
    spec = next((p[k] for k in MODEL_NAME_KEYS for p in places if isinstance(p.get(k), str) and p[k].strip()),
                None)

    def number(key: str) -> int | None:
        return next((v for p in places if (v := _positive_int(p.get(key))) is not None), None)

    size = next((p["image_size"] for p in places if isinstance(p.get("image_size"), (list, tuple))), None)
    image_size = tuple(size) if size and all(_positive_int(v) for v in size) else None
    return CheckpointFacts(spec, number("in_chans"), number("num_classes"), image_size)


def _checkpoint_path(text: str, option: str) -> Path | None:
    """The checkpoint file ``text`` names (a run folder means its checkpoint.pt); None if ``text`` does
    not look like a path; ConfigError if it looks like one that does not exist."""
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / RUN_CHECKPOINT).is_file():
            return path / RUN_CHECKPOINT
        raise ConfigError(f"{option} {text!r} is a folder without a {RUN_CHECKPOINT} (a `cnnlab train` run folder "
                          f"holds one); give a checkpoint file or a registered model name")
    if path.is_file():
        return path
    if text.lower().endswith(CHECKPOINT_SUFFIXES) or os.sep in text or text.startswith("~"):
        raise ConfigError(f"checkpoint file {text!r} ({option}) does not exist")
    return None


def _model_and_facts(name_or_checkpoint: str, checkpoint: Path | None) -> tuple[str, Any, CheckpointFacts]:
    """(model spec, the loaded checkpoint or None, what it records)."""
    positional = _checkpoint_path(name_or_checkpoint, "MODEL")
    if checkpoint is not None:
        if positional is not None:
            raise ConfigError(f"give the checkpoint once: {name_or_checkpoint!r} and --checkpoint {checkpoint}")
        positional = _checkpoint_path(str(checkpoint), "--checkpoint")
        if positional is None:
            raise ConfigError(f"checkpoint file {str(checkpoint)!r} (--checkpoint) does not exist")
    if positional is None:
        return name_or_checkpoint, None, CheckpointFacts(None, None, None, None)
    loaded = _read(positional)
    facts = checkpoint_facts(loaded)
    if checkpoint is None:  # the checkpoint alone: it must say what it holds
        if facts.spec is None:
            raise ConfigError(
                f"checkpoint {str(positional)!r} does not record its model name (keys {', '.join(MODEL_NAME_KEYS)}); "
                f"run `cnnlab export MODEL_NAME --checkpoint {positional} ...` instead"
            )
        return facts.spec, loaded, facts
    return name_or_checkpoint, loaded, facts


def _overrides(facts: CheckpointFacts, num_classes: int | None) -> dict[str, int]:
    if num_classes is not None and facts.num_classes is not None and num_classes != facts.num_classes:
        raise ConfigError(f"--num-classes {num_classes}: the checkpoint was trained with {facts.num_classes} classes")
    if num_classes is not None and num_classes < 1:
        raise ConfigError(f"--num-classes must be ≥ 1, got {num_classes}")
    found = {"num_classes": num_classes or facts.num_classes, "in_chans": facts.in_chans}
    return {k: v for k, v in found.items() if v is not None}


def _check_memory(model: Any, size: tuple[int, ...], batch: int, spec: str) -> None:
    """ConfigError when running ``model`` at ``batch`` (eager, then onnxruntime: about three times the peak
    activations, measured for free on the meta device, plus two copies of the weights) cannot fit in the
    memory free now."""
    import torch

    from cnnlab.analysis import inspect
    from cnnlab.nas.child_size import available_memory_bytes

    free = available_memory_bytes(torch.device("cpu"))
    if free is None:
        return
    report = inspect(model, (batch, *size[1:]), name=spec)
    need = 3 * int(report.peak_activation_bytes) + 8 * int(report.params)
    if need > free:
        raise ConfigError(f"--input {'x'.join(map(str, size))}: exporting and checking {spec} at batch {batch} "
                          f"needs about {need / 2**30:.1f} GiB, more than the {free / 2**30:.1f} GiB free; "
                          f"give a smaller --input")


@reports_config_errors
def export_command(
    name_or_checkpoint: str = typer.Argument(..., help="A registered model (NAME or NAME:key=value,...), a "
                                                       "checkpoint that names one, or a `cnnlab train` run folder."),
    onnx: Path = typer.Option(..., "--onnx", help="Where to write the .onnx file."),
    input_size: str | None = typer.Option(None, "--input", help="Example input size NxCxHxW (default: the "
                                          "checkpoint's channels and image size, else 1xCx224x224)."),
    num_classes: int | None = typer.Option(None, "--num-classes", help="Classifier outputs (default: the "
                                           "checkpoint's, else the model's)."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="Weights to load first."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset version (the installed exporters' range)."),
    static_batch: bool = typer.Option(False, "--static-batch", help="Fix the batch size instead of dynamic."),
) -> None:
    """Export a network to ONNX with a dynamic batch axis and check it against PyTorch with onnxruntime."""
    import torch

    from cnnlab.cli.models import create_from_spec
    from cnnlab.cli.out_files import check_output_file, writing_file
    from cnnlab.infer import (
        check_input_for,
        check_opset,
        example_input_size,
        export_onnx,
        parse_input_size,
        verify_onnx,
    )

    onnx = check_output_file(onnx, "--onnx")
    opset = check_opset(opset, where="--opset")
    size = None if input_size is None else parse_input_size(input_size, "--input")
    spec, loaded, facts = _model_and_facts(name_or_checkpoint, checkpoint)
    kwargs: dict[str, Any] = _overrides(facts, num_classes)
    if loaded is not None:
        kwargs["checkpoint"] = loaded
    model = create_from_spec(spec, **kwargs)
    if size is None:
        size = example_input_size(model, facts.image_size or 224)
    check_input_for(model, size, "--input", spec)
    batches = [size[0]] if static_batch else sorted({size[0], size[0] + 2})
    _check_memory(model, size, batches[-1], spec)
    with writing_file(onnx, "--onnx"):
        result = export_onnx(model, onnx, size, dynamic_batch=not static_batch, opset=opset)
    check = verify_onnx(result.path, model, [torch.randn(b, *size[1:]) for b in batches])
    console = Console()
    verdict = "[green]ok[/]" if check.ok(1e-4) else "[bold red]MISMATCH[/]"
    console.print(f"exported {escape(spec)} for input {'x'.join(map(str, size))} to {escape(str(result.path))} "
                  f"({result.file_bytes / 2**20:.1f} MiB, {result.exporter} exporter, opset {result.opset}, "
                  f"{'dynamic' if result.dynamic_batch else 'static'} batch)")
    console.print(f"onnxruntime vs PyTorch at batch {', '.join(map(str, check.batch_sizes))}: "
                  f"max abs error {check.max_abs_error:.2e}, max rel error {check.max_rel_error:.2e} {verdict}")
    if not check.ok(1e-4):
        raise typer.Exit(1)
