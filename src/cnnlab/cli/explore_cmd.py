"""``cnnlab explore``: write one offline HTML page to walk through a network (see docs/explore.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.cli.analysis_cmd import INPUT_HELP, MODEL_HELP, _explained, _input_size
from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.cli.models import is_registry_spec, load_model
from cnnlab.errors import ConfigError

__all__ = ["explore", "register"]


def _with_checkpoint(name: str, model, checkpoint: Path):  # noqa: ANN001, ANN202 - nn.Module
    """``model`` with the weights of ``checkpoint`` (a file, or a run folder holding checkpoint.pt); a
    ConfigError naming --checkpoint when they do not fit."""
    from cnnlab.nets.weights import load_weights

    path = checkpoint / "checkpoint.pt" if checkpoint.is_dir() else checkpoint
    if not path.is_file():
        raise ConfigError(f"--checkpoint {checkpoint} does not exist" if not checkpoint.exists()
                          else f"--checkpoint {checkpoint} is a folder without a checkpoint.pt")
    try:
        if is_registry_spec(name):
            return load_model(name, checkpoint=str(path))  # the family's key converters apply
        load_weights(model, path)
        return model
    except ConfigError as exc:
        raise ConfigError(f"--checkpoint {path} does not fit {name}: {exc}") from None


def _initialised(name: str):  # noqa: ANN202 - nn.Module
    """The model ``name`` built for real (CPU tensors), with the initialisation of seed 0."""
    import torch

    from cnnlab.cli.models import _from_source, create_from_spec

    torch.manual_seed(0)
    return create_from_spec(name) if is_registry_spec(name) else _from_source(name)


@reports_config_errors
def explore(name: str = typer.Argument(..., help=MODEL_HELP),
            input: str = typer.Option(None, "--input", help=INPUT_HELP),
            image: Path = typer.Option(None, "--image", help="picture to draw receptive fields on (letterboxed to "
                                                             "the input as `cnnlab rf` does; a grid without it)"),
            checkpoint: Path = typer.Option(None, "--checkpoint", help="weights to load (RUN/checkpoint.pt, a run "
                                                                       "folder or a state dict file)"),
            profile: bool = typer.Option(False, "--profile", help="time every unit on this CPU (cnnlab profile) and "
                                                                  "show its latency and roofline position"),
            out: Path = typer.Option(Path("explore.html"), "--out", help="the HTML page to write")) -> None:
    """Write an offline HTML page: the network as an expandable graph, every unit's numbers, its receptive
    field on the image and its window animated."""
    from cnnlab.analysis.render.rf_plot import _open_picture
    from cnnlab.atomic import atomic_write_text
    from cnnlab.cli.out_files import check_output_file, writing_file
    from cnnlab.explore import build_page

    out = check_output_file(out, "--out")
    model, weights = load_model(name), ""
    if checkpoint is not None:
        model = _with_checkpoint(name, model, checkpoint)
        weights = f"the weights of {checkpoint}"
    size = _input_size(model, input)
    picture = None
    if image is not None:
        picture = _open_picture(image, grey=len(size) == 4 and size[1] == 1)
    if (image is not None or profile) and checkpoint is None:  # effective fields and timing need a model
        model, weights = _initialised(name), "the initial weights (torch.manual_seed(0))"  # that runs
    notes = [f"weights: {weights}"] if weights else []
    timed = None
    if profile:
        from cnnlab.analysis.profile import profile as profile_model

        timed = _explained(model, size, name, lambda: profile_model(model, size, name=name))
    page = _explained(model, size, name, lambda: build_page(model, size, image=picture, name=name, notes=notes,
                                                            weights=weights, profile=timed))
    with writing_file(out, "--out"):
        atomic_write_text(out, page)
    typer.echo(f"{name}: explorer page -> {out}")


def register(app: typer.Typer) -> None:
    app.command("explore")(explore)
