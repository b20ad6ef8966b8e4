"""``--strategy oneshot``: SPOS (Guo et al. 2020) on the NAS-Bench-201 cell space. The supernet is trained
once with uniform single-path sampling (cached and resumable in ``<out>/supernet.pt``), then a search on
cnnlab's engine scores each proposed child by its validation accuracy with inherited weights after
BatchNorm recalibration, in seconds instead of a training run. SPOS searches the trained supernet with an
evolutionary algorithm; here cnnlab's aging evolution proposes (``searcher="random"``: uniform cells).

Images enter the network as the dataset has them: Fashion-MNIST 1x28x28 (``in_chans=1``; 28 is divisible
by 4, as NB201's two residual reductions need), digits 1x8x8, CIFAR 3x32x32.
"""

from __future__ import annotations

import inspect
import zlib
from typing import Any

import torch

from cnnlab.arith.checks import require_choice, require_positive, require_seed
from cnnlab.data import list_datasets, make_loaders
from cnnlab.errors import ConfigError
from cnnlab.nas.engine import SearchConfig, SearchResult, run_search
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.oneshot.score import calibration_batches, inherited_accuracy
from cnnlab.nas.oneshot.supernet import NB201Supernet
from cnnlab.nas.oneshot.train import PathTraining, train_supernet
from cnnlab.nas.spaces import make_space
from cnnlab.nas.storage import HEARTBEAT_S
from cnnlab.nas.strategies import make_strategy
from cnnlab.train.run_files import check_folder, prepare_folder

__all__ = ["SEARCHERS", "oneshot_search", "check_oneshot_options", "search_from_options"]

SEARCHERS = ("evolution", "random")  # what proposes children to score with the supernet's weights


def check_oneshot_options(space: str, data: str, noise: float = 0.0, epochs_per_trial: int | None = None,
                          channels_last: bool | None = None, supernet_epochs: int = 10, bn_batches: int = 10,
                          searcher: str = "evolution") -> None:
    """ConfigError naming the value for what a one-shot search cannot do."""
    where = "search --strategy oneshot"
    if space != "nb201":
        raise ConfigError(f"{where}: the supernet covers the NAS-Bench-201 cell space only; use --space nb201, "
                          f"not --space {space!r}")
    if not isinstance(data, str) or data not in list_datasets():
        raise ConfigError(f"{where}: --data {data!r} cannot train a supernet; use one of {list_datasets()} "
                          "(nb201:* data is a table of finished cells and toy has no images)")
    if noise:
        raise ConfigError(f"{where}: --noise {noise} applies to scores read from the NB201 table, not to a supernet")
    if epochs_per_trial not in (None, 1):
        raise ConfigError(f"{where}: --epochs-per-trial {epochs_per_trial}: children are not trained, they inherit "
                          "the supernet's weights; give the supernet's epochs with --supernet-epochs")
    if channels_last is not None:
        raise ConfigError(f"{where}: --channels-last/--no-channels-last ({channels_last}) chooses the layout of "
                          "children trained one by one; the supernet trains in the default layout")
    require_positive("--supernet-epochs", supernet_epochs, where)
    require_positive("bn_batches", bn_batches, where)
    require_choice("searcher", searcher, SEARCHERS, where)


def oneshot_search(
    space: str = "nb201",
    data: str = "fashion-mnist",
    trials: int = 20,
    out: str = "runs/search",
    seed: int = 0,
    storage: str | None = None,
    study: str | None = None,
    worker: str = "0",
    budget: ChildBudget | None = None,
    supernet_epochs: int = 10,
    bn_batches: int = 10,
    limit_val: int | None = None,
    searcher: str = "evolution",
    noise: float = 0.0,
    epochs_per_trial: int | None = None,
    progress: bool = True,
    max_failures: int = 5,
    heartbeat_s: int = HEARTBEAT_S,
) -> SearchResult:
    """Train or load the supernet (``budget``: its C, N, batch size, lr, ``limit_train``; ``supernet_epochs``),
    then search ``trials`` children scored by inherited weights on the validation split (10 % of the training
    images, at most ``limit_val``), each recalibrated on the same ``bn_batches`` training batches."""
    require_seed("--seed", seed, "search")
    budget = budget or ChildBudget(seed=seed)
    check_oneshot_options(space, data, noise, epochs_per_trial, budget.channels_last, supernet_epochs, bn_batches,
                          searcher)
    if limit_val is not None:
        require_positive("limit_val", limit_val, "search --strategy oneshot")
    bundle = make_loaders(data, batch_size=budget.batch_size, val_fraction=0.1, seed=budget.seed,
                          limit_train=budget.limit_train, limit_val=limit_val, limit_test=1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(budget.seed)
    supernet = NB201Supernet(num_classes=bundle.num_classes, in_chans=bundle.in_chans, C=budget.C,
                             N=budget.N).to(device)
    training = PathTraining(epochs=supernet_epochs, lr=budget.lr, seed=budget.seed)
    data_id = {"data": data, "batch_size": budget.batch_size, "limit_train": budget.limit_train,
               "image_size": list(bundle.image_size)}
    log = None
    if progress:
        from rich.console import Console

        console = Console(stderr=True)
        log = lambda text: console.print(text, highlight=False)  # noqa: E731
    check_folder(out, "--out")
    prepare_folder(out, "--out")
    train_supernet(supernet, bundle.train, training, out=out, data=data_id, log=log)
    supernet.eval()
    batches = calibration_batches(bundle.train, bn_batches)

    def objective(tokens: list[int], genotype: dict[str, Any]) -> float:
        return inherited_accuracy(supernet, genotype["arch"], batches, bundle.val)

    search_space = make_space("nb201")
    strategy_seed = seed if worker == "0" else seed * 1_000_003 + zlib.crc32(worker.encode())
    policy = make_strategy(searcher, search_space.choices, seed=strategy_seed, trials=trials)
    config = SearchConfig(space="nb201", strategy="oneshot", trials=trials, data=data, epochs_per_trial=0,
                          storage=storage, study=study, out=out, seed=seed, worker=worker,
                          max_failures=max_failures, heartbeat_s=heartbeat_s)
    settings = {"C": budget.C, "N": budget.N, "batch_size": budget.batch_size, "limit_train": budget.limit_train,
                "limit_val": limit_val, "lr": budget.lr, "supernet_epochs": supernet_epochs,
                "bn_batches": bn_batches, "searcher": searcher}
    return run_search(config, search_space, policy, objective, progress=progress, settings=settings)


def search_from_options(supernet_epochs: int = 10, *, strategy: str = "oneshot", budget: ChildBudget | None = None,
                        blocks: int = 3, nodes: int = 8, toy_seconds: float = 0.0,
                        objectives: str | tuple[str, ...] = "accuracy", limits: Any = None, pruner: str | None = "none",
                        prefilter: str | None = None, **options: Any) -> SearchResult:
    """:func:`oneshot_search` called with :func:`cnnlab.nas.search`'s keywords (what ``cnnlab search``
    passes); the options a one-shot search has no use for are refused when set (``blocks``, ``nodes``: other
    spaces' options, ignored). ``supernet_epochs``: ``--supernet-epochs``."""
    where = "search --strategy oneshot"
    if strategy != "oneshot":
        raise ConfigError(f"{where}: called for --strategy {strategy!r}")
    if toy_seconds:
        raise ConfigError(f"{where}: --toy-seconds {toy_seconds} belongs to the toy objective")
    if objectives not in ("accuracy", ("accuracy",), ["accuracy"]):
        raise ConfigError(f"{where}: --objective {objectives!r}: children are ranked by inherited-weight accuracy "
                          "only; use --objective accuracy")
    if limits is not None and any(getattr(limits, f, None) is not None
                                  for f in ("max_macs", "max_params", "max_latency_ms")):
        raise ConfigError(f"{where}: cost limits ({limits!r}) are not checked by the one-shot search")
    if pruner not in (None, "none"):
        raise ConfigError(f"{where}: --pruner {pruner!r}: nothing trains per child, so there is nothing to prune; "
                          "use --pruner none")
    if prefilter is not None:
        raise ConfigError(f"{where}: --prefilter {prefilter!r} does not combine with the supernet's own scores")
    known = set(inspect.signature(oneshot_search).parameters)
    extra = {k: v for k, v in options.items() if k not in known and v is not None}
    if extra:
        raise ConfigError(f"{where}: option(s) {extra!r} do not apply to a one-shot search")
    epochs = options.pop("epochs_per_trial", None)
    kwargs = {k: v for k, v in options.items() if k in known}
    return oneshot_search(budget=budget, supernet_epochs=supernet_epochs,
                          epochs_per_trial=epochs if epochs is not None else (budget.epochs if budget else None),
                          **kwargs)
