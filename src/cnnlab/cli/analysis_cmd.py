"""``cnnlab show | table | rf``: look inside a network (a registered name or path/file.py:Class)."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.cli.models import load_model
from cnnlab.errors import ConfigError

__all__ = ["register", "load_model"]

FORMATS = ("rich", "md", "json", "csv")
MODEL_HELP = "registered name (NAME or NAME:key=value,...), path/file.py:Class or package.module:Class"
INPUT_HELP = "input shape NxCxHxW (default 1xCx224x224, C = the model's in_chans)"


def _input_size(model, text: str | None) -> tuple[int, ...]:  # noqa: ANN001 - nn.Module
    from cnnlab.infer import example_input_size, parse_input_size

    return example_input_size(model) if text is None else parse_input_size(text, "--input")


def _explained(model, size: tuple[int, ...], name: str, run):  # noqa: ANN001, ANN202
    """``run()``; when it refuses the input, the clearer reason if the shape has the wrong number of
    dimensions for the model (a 2-D network needs N x C x H x W)."""
    from cnnlab.infer import check_input_for

    try:
        return run()
    except ConfigError:
        check_input_for(model, size, "--input", name)
        raise


def _parse_unit(unit: str | None) -> tuple[int, int] | None:
    if unit is None:
        return None
    parts = unit.split(",")
    if len(parts) != 2 or not all(p.strip().isdecimal() for p in parts):  # isdigit() also passes '²'
        raise ConfigError(f"--unit must be two non-negative integers i,j, got {unit!r}")
    return int(parts[0]), int(parts[1])


@reports_config_errors
def show(name: str = typer.Argument(..., help=MODEL_HELP),
         input: str = typer.Option(None, "--input", help=INPUT_HELP),
         depth: int = typer.Option(None, "--depth", help="tree depth (rich format)"),
         format: str = typer.Option("rich", "--format", help="rich | md | json | csv")) -> None:
    """Print the net → stage → block → unit tree with shapes, params, MACs and receptive fields."""
    from cnnlab.analysis import inspect

    if format not in FORMATS:
        raise ConfigError(f"--format must be rich, md, json or csv, got {format!r}")
    if depth is not None and depth < 0:
        raise ConfigError(f"--depth must be ≥ 0, got {depth}")
    model = load_model(name)
    size = _input_size(model, input)
    report = _explained(model, size, name, lambda: inspect(model, size, name=name))
    if format == "json":
        typer.echo(report.to_json())
    elif format == "csv":
        typer.echo(report.to_csv(), nl=False)
    elif format == "md":
        typer.echo(report.to_markdown(), nl=False)
    else:
        from rich.console import Console
        from rich.markup import escape

        console = Console()
        console.print(report.tree(depth))
        for key, value in report.summary_lines():
            console.print(f"[bold]{escape(str(key))}[/bold]: {escape(str(value))}", highlight=False)
        for warning in report.warnings:
            console.print(f"[yellow]warning[/yellow]: {escape(str(warning))}", highlight=False)


@reports_config_errors
def table(name: str = typer.Argument(..., help=MODEL_HELP),
          input: str = typer.Option(None, "--input", help=INPUT_HELP)) -> None:
    """Print the paper-style stage table (ResNet paper Table 1 column) of a network."""
    from cnnlab.analysis import stage_table

    model = load_model(name)
    size = _input_size(model, input)
    typer.echo(_explained(model, size, name, lambda: stage_table(model, size)), nl=False)


EFFECTIVE_IMAGES = 64  # rf --effective: test images averaged over by default
MAX_EFFECTIVE_IMAGES = 10_000


@reports_config_errors
def rf(name: str = typer.Argument(..., help=MODEL_HELP),
       input: str = typer.Option(None, "--input", help=INPUT_HELP + "; with --effective: the canvas "
                                  "the images are centred on (black border) when larger than their training size"),
       image: Path = typer.Option(None, "--image", help="image to draw the receptive field on (letterboxed: "
                                                         "its aspect is kept, grey bars fill the rest)"),
       out: Path = typer.Option(None, "--out", help="PNG to write (with --image, or with --effective)"),
       unit: str = typer.Option(None, "--unit", help="output unit i,j of the last spatial map (default: centre)"),
       effective: bool = typer.Option(False, "--effective", help="measure the effective receptive field (Luo et "
                                      "al. 2016): |gradient| of each stage's centre unit over real images"),
       checkpoint: Path = typer.Option(None, "--checkpoint", help="with --effective: trained weights "
                                       "(RUN/checkpoint.pt or a run folder; default: the initialisation)"),
       data: str = typer.Option("fashion-mnist", "--data", help="with --effective: dataset whose test images "
                                "are used (fashion-mnist | digits | cifar10 | cifar100 | PATH of an ImageFolder)"),
       data_root: str = typer.Option(None, "--data-root", help="folder holding the dataset files"),
       images: int = typer.Option(EFFECTIVE_IMAGES, "--images", help="with --effective: test images averaged over"),
       units: str = typer.Option("stages", "--units", help="with --effective: 'stages' (each stage's end) or "
                                 "module paths a,b,c"),
       mode: str = typer.Option("eval", "--mode", help="with --effective: eval (default) | train mode of the copy "
                                "the gradients run through"),
       seed: int = typer.Option(0, "--seed", help="with --effective: torch's seed before the model is built (as "
                                "`cnnlab train --seed` does: the same seed gives that run's initialisation)")) -> None:
    """Receptive field per stage; with --image/--out, draw one unit's field on the image; with --effective,
    the effective field per stage next to the theoretical one (heatmaps to --out)."""
    from cnnlab.analysis import inspect
    from cnnlab.analysis.render.rf_plot import draw_receptive_field, stage_fields
    from cnnlab.cli.out_files import check_output_file, writing_file

    if effective:
        if image is not None or unit is not None:
            raise ConfigError("--image and --unit draw the theoretical field; --effective measures each stage's "
                              "centre unit over --data images: give one or the other")
        _effective_rf(name, input, out, checkpoint, data, data_root, images, units, mode, seed)
        return
    for option, value in (("--checkpoint", checkpoint), ("--images", images != EFFECTIVE_IMAGES or None),
                          ("--units", units != "stages" or None), ("--mode", mode != "eval" or None),
                          ("--seed", seed != 0 or None), ("--data", data != "fashion-mnist" or None),
                          ("--data-root", data_root)):
        if value is not None:
            raise ConfigError(f"{option} goes with --effective")
    if (image is None) != (out is None):
        raise ConfigError("--image and --out go together")
    cell = _parse_unit(unit)
    if out is not None:
        out = check_output_file(out, "--out")
    model = load_model(name)
    size = _input_size(model, input)
    report = _explained(model, size, name, lambda: inspect(model, size, name=name))
    for path, shape, r, jump in stage_fields(report):
        typer.echo(f"{path:<24} {shape:<14} r={r} j={jump}")
    if image is not None:
        with writing_file(out, "--out"):
            box = draw_receptive_field(report, image, out, cell)
        typer.echo(f"unit {box['unit']}: box rows {box['rows']} cols {box['cols']} -> {out} ({box['fit']})")


# --- rf --effective ------------------------------------------------------------------------------------------
def _checkpoint_state(path: Path) -> tuple[dict, object]:
    """(the model's state dict, what the checkpoint records) of ``path`` (a file or a run folder)."""
    from cnnlab.cli.infer_cmd import checkpoint_facts
    from cnnlab.train.checkpoint import CHECKPOINT_NAME, load_checkpoint

    path = Path(path).expanduser()
    if path.is_dir():
        if not (path / CHECKPOINT_NAME).is_file():
            raise ConfigError(f"--checkpoint {path} is a folder without a {CHECKPOINT_NAME} (a `cnnlab train` run "
                              "folder holds one)")
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ConfigError(f"--checkpoint {path} does not exist")
    loaded = load_checkpoint(path)
    state = loaded.get("model", loaded)
    if not isinstance(state, dict):
        raise ConfigError(f"--checkpoint {path} holds no model state dict")
    return state, checkpoint_facts(loaded)


def _real_model(name: str, checkpoint: Path | None, data_chans: int, data_classes: int):  # noqa: ANN202
    """(the model with real weights, its input image size if the checkpoint records one)."""
    from cnnlab.cli.models import _from_source, create_from_spec, is_registry_spec

    state, facts = _checkpoint_state(checkpoint) if checkpoint is not None else (None, None)
    where = f"--checkpoint {checkpoint}" if checkpoint is not None else name
    recorded = f" (it records model {facts.spec!r})" if facts is not None and facts.spec else ""
    try:
        if is_registry_spec(name):
            chans = (facts.in_chans if facts else None) or data_chans
            classes = (facts.num_classes if facts else None) or data_classes
            model = create_from_spec(name, in_chans=chans, num_classes=classes)
        else:
            model = _from_source(name)
        if state is not None:
            from cnnlab.nets.weights import load_weights

            load_weights(model, state)
    except ConfigError as exc:
        if state is None:
            raise
        raise ConfigError(f"{where} does not fit {name}{recorded}: {exc}") from None
    return model, (facts.image_size if facts is not None else None)


def _data_images(data: str, data_root: str | None, count: int, chans: int, trained: tuple[int, int] | None,
                 canvas: tuple[int, int] | None):  # noqa: ANN202 - a tensor
    """The first ``count`` images of a seeded subset of ``data``'s test split, as the training loaders serve them
    at the ``trained`` size (the data's own if None: padded or resized, normalised, grey repeated to ``chans``),
    then centred on a black ``canvas`` when it is larger (the objects keep the scale the network learned, and
    a field larger than the image finds room); a smaller canvas resizes as the loaders do."""
    from cnnlab.data import make_loaders

    def load(size: tuple[int, int] | None):  # noqa: ANN202
        bundle = make_loaders(data, batch_size=count, val_fraction=0.0, image_size=size, in_chans=chans,
                              root=data_root, limit_test=count, eval_batch_size=count)
        return next(iter(bundle.test))[0][:count], bundle

    x, bundle = load(trained)
    h, w = x.shape[2:]
    if canvas is None or tuple(canvas) == (h, w):
        return x
    if canvas[0] < h or canvas[1] < w:
        return load(canvas)[0]
    import torch

    black = torch.tensor([(0.0 - m) / s for m, s in zip(bundle.mean, bundle.std, strict=True)], dtype=x.dtype)
    black = black.repeat(chans // len(black)) if chans != len(black) else black
    out = black.view(1, -1, 1, 1).expand(x.shape[0], chans, *canvas).clone()
    top, left = (canvas[0] - h) // 2, (canvas[1] - w) // 2
    out[:, :, top:top + h, left:left + w] = x
    return out


def _model_chans(model, fallback: int) -> int:  # noqa: ANN001 - nn.Module
    """The input channels ``model`` declares (``in_chans``), else its first convolution's, else ``fallback``."""
    from torch import nn

    declared = getattr(model, "in_chans", None)
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else fallback


def _effective_rf(name: str, input: str | None, out: Path | None, checkpoint: Path | None, data: str,
                  data_root: str | None, images: int, units: str, mode: str, seed: int) -> None:
    import torch

    from cnnlab.analysis.effective_rf import MODES, effective_receptive_field
    from cnnlab.analysis.render.erf_plot import draw_effective_fields, effective_line
    from cnnlab.arith.checks import require_seed
    from cnnlab.cli.out_files import check_output_file, writing_file
    from cnnlab.data.catalog import dataset_facts

    if not 1 <= images <= MAX_EFFECTIVE_IMAGES:
        raise ConfigError(f"--images must be between 1 and {MAX_EFFECTIVE_IMAGES}, got {images}")
    if mode not in MODES:
        raise ConfigError(f"--mode must be eval or train, got {mode!r}")
    chosen = None if units.strip() == "stages" else [u.strip() for u in units.split(",")]
    if chosen is not None and not all(chosen):
        raise ConfigError(f"--units must be 'stages' or module paths a,b,c, got {units!r}")
    if out is not None:
        out = check_output_file(out, "--out")
    facts = dataset_facts(data)
    torch.manual_seed(require_seed("--seed", seed, "rf --effective"))
    model, trained_size = _real_model(name, checkpoint, facts.in_chans, facts.num_classes)
    size = _input_size(model, input) if input is not None else None
    if size is not None and len(size) != 4:
        raise ConfigError(f"--input {input}: --effective needs a 2-D network's N x C x H x W")
    canvas = tuple(size[2:]) if size is not None else None
    chans = size[1] if size is not None else _model_chans(model, facts.in_chans)
    x = _data_images(data, data_root, images, chans, tuple(trained_size) if trained_size else None, canvas)
    fields = effective_receptive_field(model, x, chosen, mode=mode)
    weights = f"weights of {checkpoint}" if checkpoint is not None else f"weights at initialisation (seed {seed})"
    typer.echo(f"{name}: {weights}, {mode} mode, mean |gradient| of each unit's centre over {x.shape[0]} "
               f"{data} test images of {'x'.join(map(str, x.shape[1:]))}")
    for f in fields.values():
        typer.echo(effective_line(f))
    if out is not None:
        with writing_file(out, "--out"):
            draw_effective_fields(fields, out, f"{name}, {weights}, {mode} mode, {x.shape[0]} {data} images of "
                                  f"{'x'.join(map(str, x.shape[2:]))}\nyellow: theoretical field, cyan: the square "
                                  "holding 95 % of the |gradient|")
        typer.echo(f"-> {out}")


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("table")(table)
    app.command("rf")(rf)
