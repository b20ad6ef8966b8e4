"""``cnnlab export``: a registered network (optionally with a checkpoint) to ONNX, checked by onnxruntime."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cnnlab.cli.config_errors import exit_on_config_error
from cnnlab.errors import ConfigError

__all__ = ["export_command", "register"]

MODEL_NAME_KEYS = ("model_name", "arch", "model")  # where a checkpoint may record which network it holds


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``cnnlab`` app."""
    app.command("export")(export_command)


def _name_in_checkpoint(path: Path) -> str:
    """The model name a checkpoint file records under one of ``MODEL_NAME_KEYS`` (top level or ``config``)."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors of every kind
        raise ConfigError(f"checkpoint {str(path)!r} could not be read as a torch file: {exc}") from exc
    places = [loaded, loaded.get("config")] if isinstance(loaded, dict) else []
    for place in places:
        for key in MODEL_NAME_KEYS:
            if isinstance(place, dict) and isinstance(place.get(key), str):
                return place[key]
    raise ConfigError(
        f"checkpoint {str(path)!r} does not record its model name (keys {', '.join(MODEL_NAME_KEYS)}); "
        f"run `cnnlab export MODEL_NAME --checkpoint {path} ...` instead"
    )


def _build(name_or_checkpoint: str, checkpoint: Path | None, num_classes: int | None) -> tuple[str, Any]:
    from cnnlab.nets.registry import create_model

    name = name_or_checkpoint
    if os.path.isfile(name_or_checkpoint):
        if checkpoint is not None:
            raise ConfigError(f"give the checkpoint once: {name_or_checkpoint!r} and --checkpoint {checkpoint}")
        checkpoint = Path(name_or_checkpoint)
        name = _name_in_checkpoint(checkpoint)
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    return name, create_model(name, checkpoint=checkpoint, **kwargs)


def export_command(
    name_or_checkpoint: str = typer.Argument(..., help="A registered model name, or a checkpoint that names one."),
    onnx: Path = typer.Option(..., "--onnx", help="Where to write the .onnx file."),
    input_size: str = typer.Option("1x3x224x224", "--input", help="Example input size NxCxHxW."),
    num_classes: int | None = typer.Option(None, "--num-classes", help="Classifier outputs (model default)."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="Weights to load first."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset version."),
    static_batch: bool = typer.Option(False, "--static-batch", help="Fix the batch size instead of dynamic."),
) -> None:
    """Export a network to ONNX with a dynamic batch axis and check it against PyTorch with onnxruntime."""
    console = Console()
    try:
        import torch

        from cnnlab.infer import export_onnx, parse_input_size, verify_onnx

        size = parse_input_size(input_size)
        name, model = _build(name_or_checkpoint, checkpoint, num_classes)
        result = export_onnx(model, onnx, size, dynamic_batch=not static_batch, opset=opset)
        batches = [size[0]] if static_batch else sorted({size[0], size[0] + 2})
        check = verify_onnx(result.path, model, [torch.randn(b, *size[1:]) for b in batches])
    except ConfigError as exc:
        exit_on_config_error(exc)
    verdict = "[green]ok[/]" if check.ok(1e-4) else "[bold red]MISMATCH[/]"
    console.print(f"exported {escape(name)} to {escape(str(result.path))} "
                  f"({result.file_bytes / 2**20:.1f} MiB, {result.exporter} exporter, opset {result.opset}, "
                  f"{'dynamic' if result.dynamic_batch else 'static'} batch)")
    console.print(f"onnxruntime vs PyTorch at batch {', '.join(map(str, check.batch_sizes))}: "
                  f"max abs error {check.max_abs_error:.2e}, max rel error {check.max_rel_error:.2e} {verdict}")
    if not check.ok(1e-4):
        raise typer.Exit(1)
