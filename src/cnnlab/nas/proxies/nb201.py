"""Scoring NAS-Bench-201 cells with the proxies (Dong & Yang, ICLR 2020; the network of
:mod:`cnnlab.nas.nb201`, the table of :mod:`cnnlab.nas.nb201_table`).

Each cell's network is built as the benchmark trains it for a dataset (10 / 100 / 120 classes; 3x32x32 images for
CIFAR, 3x16x16 for ImageNet16-120) with PyTorch's default initialisation, seeded by ``(seed, benchmark index)``:
a cell scores the same whichever other cells are scored with it.

SynFlow is computed by one float32 forward pass (:mod:`cnnlab.nas.proxies.nb201_synflow`) on the weights the cell's
network would be built with: the number :func:`cnnlab.nas.proxies.synflow` gives for that network (float64,
autograd), about ten times faster and without building it. ``iso=True`` scores each isomorphism class once (the
table's ``iso``: cells computing the same function, isomorphic or differing only in dead edges, then score alike,
from the network of the class's smallest index): 2.4 times fewer passes, but a cell then takes another network's
initialisation, and one initialisation's SynFlow varies by ~9 % (log-ratio std 0.085 between two seeds), enough to
move ranks: Spearman ρ 0.9987-0.9991 with the per-cell scores on 200 cells (``benchmarks/proxies.py``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_non_negative, require_positive, require_seed
from cnnlab.atomic import atomic_write_text
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201_arch import parse_arch
from cnnlab.nas.proxies.common import Batch
from cnnlab.nas.proxies.correlation import spearman
from cnnlab.nas.proxies.nb201_synflow import nb201_synflow, nb201_weights
from cnnlab.nas.proxies.registry import DATA_FREE, get_proxy, parse_proxies
from cnnlab.nas.proxies.synflow import synflow

__all__ = ["SPACES", "NB201_DATASETS", "check_space", "cell_seed", "build_cell", "sample_cells",
           "synflow_cells", "proxy_batch", "score_cells", "scoring_steps", "CellScores", "score_space",
           "check_csv_path"]

SPACES = ("nb201",)
# dataset -> (classes, image side) of the network NB201 trains on it (Dong & Yang 2020, Sec. 2.2)
NB201_DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32), "imagenet16-120": (120, 16)}

Progress = Callable[[int], None]


def check_space(space: object, where: str = "--space") -> str:
    """The proxies score NAS-Bench-201 cells only (the one space with a table to hold them against)."""
    require_choice("space", space, SPACES, where)
    return str(space)


def _table():
    from cnnlab.nas.nb201_table import NB201Table

    return NB201Table.load()


def cell_seed(seed: int, index: int) -> int:
    """The torch seed of cell ``index``'s initialisation under run seed ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def build_cell(index: int, dataset: str = "cifar10", seed: int = 0, C: int = 16, N: int = 5) -> nn.Module:
    """The network of benchmark cell ``index`` for ``dataset``, initialised from :func:`cell_seed` (the global
    random state is left as it was)."""
    import cnnlab

    require_choice("dataset", dataset, tuple(NB201_DATASETS), "nb201 proxies")
    classes, _ = NB201_DATASETS[dataset]
    arch = _table().arch(int(index))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell_seed(seed, index))
        return cnnlab.create_model("nb201", arch=arch, num_classes=classes, C=C, N=N)


def sample_cells(n: int, seed: int) -> np.ndarray:
    """``n`` distinct benchmark indices drawn with ``seed``, sorted (``n = 0``: all 15,625)."""
    n = require_non_negative("--sample", n, "proxies")
    seed = require_seed("--seed", seed, "proxies")
    total = len(_table())
    if n == 0 or n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng([seed, 201]).choice(total, size=n, replace=False))


def synflow_cells(indices: Sequence[int], dataset: str = "cifar10", seed: int = 0, C: int = 16, N: int = 5,
                  progress: Progress | None = None, iso: bool = False) -> np.ndarray:
    """SynFlow of each cell in ``indices`` by one float32 forward pass (:func:`nb201_synflow`) on the weights
    :func:`build_cell` would give its network (``iso``: once per isomorphism class, on its smallest index's
    network); the float64 :func:`synflow` of the network where the pass does not give a finite number."""
    require_choice("dataset", dataset, tuple(NB201_DATASETS), "nb201 proxies")
    table = _table()
    classes, side = NB201_DATASETS[dataset]
    cells = np.asarray(indices, dtype=np.int64)
    reps = table.iso_class[cells] if iso else cells
    scores: dict[int, float] = {}
    for rep in dict.fromkeys(int(r) for r in reps):
        ops = parse_arch(table.arch(rep))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cell_seed(seed, rep))
            weights = nb201_weights(ops, classes, C, N)
        value = nb201_synflow(ops, weights, side)
        if not np.isfinite(value):
            value = synflow(build_cell(rep, dataset, seed, C, N), torch.zeros(1, 3, side, side))
        scores[rep] = value
        if progress is not None:
            progress(1)
    return np.array([scores[int(r)] for r in reps], dtype=np.float64)


def proxy_batch(data: str = "fashion-mnist", batch_size: int = 64, image_size: int = 32, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One seeded training batch of ``data``, normalised, as 3 x ``image_size``² images (a grey set's channel
    repeated; Fashion-MNIST's 28x28 padded to 32x32 or resized to 16x16)."""
    from cnnlab.data import make_loaders

    batch_size = require_positive("--batch-size", batch_size, "proxies")
    bundle = make_loaders(data, batch_size=batch_size, val_fraction=0.0, seed=seed, image_size=image_size,
                          in_chans=3, limit_train=batch_size, limit_test=1)
    return next(iter(bundle.train))


def score_cells(indices: Sequence[int], proxies: Sequence[str], dataset: str = "cifar10", seed: int = 0,
                batch: Batch | None = None, C: int = 16, N: int = 5,
                progress: Progress | None = None) -> dict[str, np.ndarray]:
    """{proxy: score of each cell in ``indices``}. Data-free proxies read only the image shape; the others need
    ``batch`` (see :func:`proxy_batch`). Each cell's network is built once for all proxies but SynFlow, which goes
    through :func:`synflow_cells`."""
    require_choice("dataset", dataset, tuple(NB201_DATASETS), "nb201 proxies")
    fns = {name: get_proxy(name) for name in proxies}
    _, side = NB201_DATASETS[dataset]
    if any(name not in DATA_FREE for name in fns) and batch is None:
        raise ConfigError(f"proxies {[n for n in fns if n not in DATA_FREE]} read data: give a batch")
    shape_only = torch.zeros(1, 3, side, side)
    out: dict[str, np.ndarray] = {}
    if "synflow" in fns:
        out["synflow"] = synflow_cells(indices, dataset, seed, C, N, progress)
    others = [name for name in fns if name != "synflow"]
    if others:
        values = {name: np.empty(len(indices)) for name in others}
        for i, index in enumerate(indices):
            net = build_cell(int(index), dataset, seed, C, N)
            for name in others:
                values[name][i] = fns[name](net, shape_only if name in DATA_FREE else batch)
            if progress is not None:
                progress(1)
        out.update(values)
    return {name: out[name] for name in fns}


def scoring_steps(indices: Sequence[int], proxies: Sequence[str]) -> int:
    """How many times :func:`score_cells` calls ``progress``: one per cell for SynFlow, one per cell for the other
    proxies together."""
    return len(indices) * (("synflow" in proxies) + bool(set(proxies) - {"synflow"}))


def check_csv_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file to write (checked before any cell is scored): not a folder, not below a file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--out {str(path)!r} is a folder; give a CSV file name")
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        raise ConfigError(f"--out {str(path)!r}: a parent of it is a file")
    return path


@dataclass
class CellScores:
    """Proxy scores of NB201 cells (benchmark indices) beside their test accuracy on ``dataset``."""

    dataset: str
    indices: np.ndarray
    scores: dict[str, np.ndarray]

    @property
    def accuracy(self) -> np.ndarray:
        return _table().accuracies(self.dataset)[self.indices]

    def spearman(self) -> dict[str, float]:
        """Each proxy's Spearman ρ with the accuracy over these cells."""
        return {name: spearman(values, self.accuracy) for name, values in self.scores.items()}

    def csv_text(self) -> str:
        """index, arch, iso, <dataset>_accuracy, then one column per proxy (floats written in full)."""
        table = _table()
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["index", "arch", "iso", f"{self.dataset}_accuracy", *self.scores])
        accuracy = self.accuracy
        for row, index in enumerate(self.indices):
            writer.writerow([int(index), table.arch(int(index)), int(table.iso_class[index]), f"{accuracy[row]:.4f}",
                             *(repr(float(values[row])) for values in self.scores.values())])
        return text.getvalue()

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        """:meth:`csv_text` written atomically; a path that cannot be written is a ConfigError naming it."""
        path = check_csv_path(path)
        try:
            return atomic_write_text(path, self.csv_text())
        except OSError as exc:
            raise ConfigError(f"--out {str(path)!r} cannot be written ({exc.strerror or exc})") from None


def score_space(space: str, proxies: str | Sequence[str], sample: int = 100, seed: int = 0,
                dataset: str = "cifar10", data: str = "fashion-mnist", batch_size: int = 64,
                progress: Callable[[int], Progress | None] | None = None) -> CellScores:
    """Score ``sample`` seeded cells of ``space`` (0: all) with ``proxies`` ("synflow,naswot" or a list) on the
    network of ``dataset``; the data-dependent proxies read one seeded batch of ``data`` at the network's image
    size. ``progress(total_steps)`` may return a callback that is called once per step."""
    names = parse_proxies(proxies if isinstance(proxies, str) else ",".join(proxies))
    check_space(space)
    require_choice("--dataset", dataset, tuple(NB201_DATASETS), "proxies")
    indices = sample_cells(sample, seed)
    batch = None
    if any(name not in DATA_FREE for name in names):
        batch = proxy_batch(data, batch_size, NB201_DATASETS[dataset][1], seed)
    step = progress(scoring_steps(indices, names)) if progress is not None else None
    return CellScores(dataset, indices, score_cells(indices, names, dataset, seed, batch, progress=step))
