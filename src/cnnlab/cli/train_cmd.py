"""``cnnlab train MODEL --data NAME``: train a registered network; the same command runs DDP under torchrun."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from cnnlab.cli.config_errors import reports_config_errors

__all__ = ["register", "train_command"]



def register(app: typer.Typer) -> None:
    """Add ``cnnlab train`` to the ``cnnlab`` app."""
    app.command(name="train")(train_command)


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def default_run_folder(model_spec: str, data: str) -> Path:
    """``runs/LABEL-DATA``, LABEL the spec's label as compare names its run folders (``nasnet-best-C8``)."""
    from cnnlab.compare.specs import model_label

    return Path("runs") / f"{model_label(model_spec)}-{Path(str(data)).name}"


def run_training(model_name: str, data: str, out: Path | None, resume: bool, data_args: dict, config_args: dict,
                 progress: bool = True, overwrite: bool = False, recipe: str | None = None):  # fmt: skip
    """Build the loaders, the model and the config, then :func:`cnnlab.train.fit`; returns (result, folder).

    With ``recipe``, the config is that recipe's (``cnnlab.train.recipes``) and ``config_args`` may hold only
    the fields a recipe leaves free (a ConfigError names any other). The run folder is checked (a file in
    the way, a read-only file system) before any data is read.
    """
    import torch

    from cnnlab.cli.models import create_from_spec
    from cnnlab.data import make_loaders
    from cnnlab.train import TrainConfig, fit
    from cnnlab.train.run_files import check_folder

    if recipe is not None:
        from cnnlab.train.recipes import recipe_config

        config = recipe_config(recipe, "--recipe", **config_args)
    else:
        config = TrainConfig(**config_args)
    folder = out if out is not None else default_run_folder(model_name, data)
    check_folder(folder, "--out")
    bundle = make_loaders(data, config.batch_size, seed=config.seed, **data_args)
    torch.manual_seed(config.seed)
    model = create_from_spec(model_name, num_classes=bundle.num_classes, in_chans=bundle.in_chans)
    model.model_spec = model_name  # with its builder arguments, for the checkpoint (`cnnlab export RUN` rebuilds it)
    result = fit(model, bundle, config, out_dir=folder, resume=resume, overwrite=overwrite, progress=progress)
    return result, folder


def _given_on_the_command_line(ctx: typer.Context, names: list[str]) -> set[str]:
    """The options of ``names`` the user typed (or set through the environment), not left at their default."""
    given = set()
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.add(name)
    return given


@reports_config_errors
def train_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Registered model name (see `cnnlab list`), optionally NAME:key=value,... "
                                          "with builder arguments, e.g. nasnet:genotype=best.json,C=8."),
    data: str = typer.Option("fashion-mnist", "--data", help="fashion-mnist | digits | cifar10 | cifar100 | PATH of an ImageFolder tree."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder holding the dataset files (default: $CNNLAB_DATA, then /usr/share/datasets)."),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs."),
    batch_size: int = typer.Option(128, "--batch-size", help="Images per step and process."),
    lr: float = typer.Option(0.05, "--lr", help="Peak learning rate."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd | adamw."),
    momentum: float = typer.Option(0.9, "--momentum"),
    weight_decay: float = typer.Option(5e-4, "--weight-decay"),
    warmup_epochs: float = typer.Option(0.0, "--warmup-epochs", help="Linear warm-up before the cosine decay."),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing"),
    precise_bn_batches: int = typer.Option(0, "--precise-bn-batches", help="After each epoch, recompute BatchNorm statistics over this many training batches (0: off)."),
    amp: str = typer.Option("auto", "--amp", help="auto (fp16 on CUDA, off on CPU) | off | fp16 | bf16."),
    channels_last: bool | None = typer.Option(None, "--channels-last/--no-channels-last", help="Memory layout. Default: channels_last for a convolutional network (CUDA and CPU alike: see cnnlab.train.layout)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default runs/MODEL-DATA)."),
    resume: bool = typer.Option(False, "--resume", help="Insist on continuing OUT's run (an error when it has no checkpoint). Without it, a run of the same configuration in OUT is continued anyway."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete the run in OUT (checkpoint, metrics, result) and train from scratch."),
    image_size: int | None = typer.Option(None, "--image-size", help="Pad or resize images to this size, e.g. 32."),
    in_chans: int | None = typer.Option(None, "--in-chans", help="Repeat grey images to this many channels, e.g. 3."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Share of the train split held out for validation."),
    seed: int = typer.Option(0, "--seed"),
    limit_train: int | None = typer.Option(None, "--limit-train", help="Train on a seeded subset of this many images."),
    limit_val: int | None = typer.Option(None, "--limit-val", help="Validate each epoch on a seeded subset of this many images."),
    limit_test: int | None = typer.Option(None, "--limit-test", help="Test on a seeded subset of this many images."),
    download: bool = typer.Option(False, "--download", help="Fetch a missing built-in dataset (needs internet)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    recipe: str | None = typer.Option(None, "--recipe", help="A named training recipe (cnnlab.train.recipes): fast (time to accuracy: large batch, EMA, progressive resizing, flip TTA, ...) or converged. It fixes every hyper-parameter but --epochs, --batch-size (the lr scales with it), --seed, --device, --amp and the layout."),
) -> None:
    """Train MODEL on a dataset; metrics.jsonl, checkpoint.pt and result.json go to the run folder.

    Re-running into a folder that holds the same run continues it (a finished one trains nothing); a run
    of another configuration there is refused, naming the differences (--overwrite replaces it).
    """
    data_args = dict(val_fraction=val_fraction, image_size=image_size, in_chans=in_chans, root=data_root,
                     limit_train=limit_train, limit_val=limit_val, limit_test=limit_test, download=download)  # fmt: skip
    config_args = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                       weight_decay=weight_decay, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing,
                       precise_bn_batches=precise_bn_batches,
                       amp=amp, channels_last=channels_last, device=device, seed=seed)  # fmt: skip
    if recipe is not None:  # only what the user typed goes with a recipe; recipe_config refuses what it fixes
        given = _given_on_the_command_line(ctx, list(config_args))
        config_args = {k: v for k, v in config_args.items() if k in given}
    result, folder = run_training(model, data, out, resume, data_args, config_args, progress, overwrite, recipe)
    if _is_main_process():
        best = "n/a" if result.best_val_acc is None else f"{result.best_val_acc:.4f}"
        test = "n/a" if result.test_acc is None else f"{result.test_acc:.4f}"
        how = ""
        if result.already_finished:
            how = f"already trained ({result.epochs} epochs), nothing retrained; "
        elif result.resumed_epochs:
            how = f"resumed after epoch {result.resumed_epochs}; "
        Console().print(
            f"{escape(model)} on {escape(data)}: {how}test acc {test}, best val acc {best}, "
            f"{result.images_per_second:,.0f} img/s ({result.world_size} process(es), {result.device})\n"
            f"run folder: {escape(str(folder))}"
        )
