"""Train every model under one shared budget, each in its own resumable run folder.

``<out>/runs/<model>/`` holds the trainer's files (``checkpoint.pt``, ``metrics.jsonl``, ...),
``compare_budget.json`` (the budget the run was started with) and, once training finished,
``compare_result.json``. Re-running the comparison
skips models with a result, resumes the others from their last checkpoint, and refuses to reuse a
folder started under a different budget (so nothing already trained is overwritten).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from cnnlab.atomic import atomic_write_text
from cnnlab.data.bundle import DataBundle
from cnnlab.errors import ConfigError
from cnnlab.train.run_files import prepare_folder, writing

__all__ = ["TrainBudget", "TrainOutcome", "train_or_resume", "load_finished"]

BUDGET_FILE = "compare_budget.json"
RESULT_FILE = "compare_result.json"


@dataclass(frozen=True)
class TrainBudget:
    """The training budget every model of one comparison shares."""

    data: str
    image_size: tuple[int, int]
    in_chans: int
    epochs: int
    batch_size: int
    limit_train: int | None
    limit_eval: int | None
    optimizer: str | None = None  # None: the trainer's default
    lr: float | None = None  # None: the trainer's default
    seed: int = 0
    precise_bn_batches: int = 0  # BatchNorm statistics recomputed with the final weights (0: off)
    limit_val: int | None = None  # validation images (None: limit_eval)
    channels_last: bool | None = None  # None: the trainer's rule (cnnlab.train.layout)
    recipe: str | None = None  # a training recipe of cnnlab.train.recipes (None: the trainer's defaults)
    name: str | None = None  # "converged": all training images, the per-epoch curve on the test set

    def to_json(self) -> dict:
        data = asdict(self)
        data["image_size"] = list(self.image_size)
        return data


@dataclass(frozen=True)
class TrainOutcome:
    epochs: int
    train_images: int
    val_top1: float | None  # percent
    test_top1: float | None  # percent
    images_per_second: float | None
    resumed: bool = False
    skipped: bool = False
    test_images: int | None = None  # the test set's size (for the binomial error bar)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; delete it to retrain that model") from None


def _check_budget(run_dir: Path, budget: TrainBudget) -> bool:
    """True if the folder already holds a run of this budget; ConfigError if of another one. A key an
    older budget file lacks counts as None (the default of every field added since)."""
    saved = _read_json(run_dir / BUDGET_FILE)
    if saved is None:
        return False
    asked = budget.to_json()
    changed = sorted(k for k in set(saved) | set(asked) if saved.get(k) != asked.get(k))
    if changed:
        raise ConfigError(
            f"{run_dir} holds a run with a different training budget ({', '.join(changed)} differ: "
            f"saved {[saved.get(k) for k in changed]}, asked {[asked.get(k) for k in changed]}); "
            "choose another --out, or delete that folder to retrain"
        )
    return True


def load_finished(run_dir: Path, budget: TrainBudget) -> TrainOutcome | None:
    """The outcome of a finished run of this budget in ``run_dir``, or None if not finished."""
    if not _check_budget(run_dir, budget):
        return None
    saved = _read_json(run_dir / RESULT_FILE)
    if saved is None:
        return None
    return dataclasses.replace(TrainOutcome(**saved), skipped=True)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * float(value)


def _train_config(budget: TrainBudget):
    from cnnlab.train import TrainConfig

    if budget.recipe is not None:  # the recipe fixes everything but these
        from cnnlab.train.recipes import recipe_config

        return recipe_config(budget.recipe, "compare", epochs=budget.epochs, batch_size=budget.batch_size,
                             seed=budget.seed, channels_last=budget.channels_last)  # fmt: skip
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    wanted = {"epochs": budget.epochs, "batch_size": budget.batch_size, "seed": budget.seed,
              "precise_bn_batches": budget.precise_bn_batches, "channels_last": budget.channels_last}
    if budget.optimizer is not None:
        wanted["optimizer"] = budget.optimizer
    if budget.lr is not None:
        wanted["lr"] = budget.lr
    return TrainConfig(**{k: v for k, v in wanted.items() if k in names})


def train_or_resume(
    model: nn.Module, bundle: DataBundle, budget: TrainBudget, run_dir: Path, progress: bool = True
) -> TrainOutcome:
    """Train ``model`` under ``budget`` in ``run_dir`` (resuming a started run) and record the result."""
    from cnnlab.train import fit

    finished = load_finished(run_dir, budget)
    if finished is not None:
        return finished
    prepare_folder(run_dir, "run folder")
    with writing(run_dir / BUDGET_FILE):
        atomic_write_text(run_dir / BUDGET_FILE, json.dumps(budget.to_json(), indent=1) + "\n")
    # the trainer continues a run of the same configuration in run_dir from its checkpoint
    result = fit(model, bundle, _train_config(budget), out_dir=run_dir, progress=progress)
    outcome = TrainOutcome(
        epochs=budget.epochs,
        train_images=len(bundle.train.dataset),
        # under the converged budget the per-epoch curve is on the test set: no validation accuracy to report
        val_top1=None if budget.name == "converged" else _percent(result.best_val_acc),
        test_top1=_percent(result.test_acc),
        images_per_second=result.images_per_second,
        resumed=result.resumed_epochs > 0,
        test_images=None if bundle.test is None else len(bundle.test.dataset),
    )
    with writing(run_dir / RESULT_FILE):
        atomic_write_text(run_dir / RESULT_FILE, json.dumps(asdict(outcome), indent=1) + "\n")
    return outcome
