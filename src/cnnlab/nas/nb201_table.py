"""The NAS-Bench-201 accuracy table, shipped with cnnlab: the 200-epoch test accuracy of each of the 15,625
cells on CIFAR-10, CIFAR-100 and ImageNet16-120 (Dong & Yang, ICLR 2020, arXiv:2001.00326; read through
the NATS-Bench API, Dong et al., TPAMI 2021 — see ``nb201_accuracy.md`` beside this file for the source and
the attribution).

``nb201_accuracy.json`` is compact: per benchmark index, the cell as a base-5 code
(:func:`cnnlab.nas.nb201.arch_code`), the three accuracies in units of 1e-4 points (the source rounds to
4 decimals, so the integers are exact) and the isomorphism class (the smallest index computing the same
function). Loading it takes a few milliseconds and a few MB, against the ~28 GB of the official files.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnlab.arith.checks import require_choice, require_range, require_seed
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201_arch import NB201_CELLS, arch_code, arch_from_code, format_arch, parse_arch

__all__ = ["DATASETS", "TABLE_PATH", "NB201Table", "compact_table"]

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
TABLE_PATH = Path(__file__).with_name("nb201_accuracy.json")
SCALE = 10_000  # accuracies are stored as integers in units of 1e-4 points


class NB201Table:
    """Accuracy (percent) of every cell by arch string or benchmark index, and its isomorphism class."""

    def __init__(self, codes: np.ndarray, accuracy: dict[str, np.ndarray], iso: np.ndarray) -> None:
        self.codes = np.asarray(codes, dtype=np.int64)
        self._accuracy = {d: np.asarray(accuracy[d], dtype=np.float64) for d in DATASETS}
        self.iso_class = np.asarray(iso, dtype=np.int64)
        for array in (self.codes, self.iso_class, *self._accuracy.values()):
            array.setflags(write=False)
        self.index_of_code = np.full(NB201_CELLS, -1, dtype=np.int64)
        self.index_of_code[self.codes] = np.arange(len(self.codes))
        if len(self.codes) != NB201_CELLS or (self.index_of_code < 0).any():
            raise ConfigError(f"nb201 table: expected each of the {NB201_CELLS} cells once")
        self.index_of_code.setflags(write=False)
        self._archs: tuple[str, ...] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> NB201Table:
        """The table shipped in the package (cached), or a compact table file at ``path``."""
        return _load(str(TABLE_PATH if path is None else path))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def archs(self) -> tuple[str, ...]:
        """Every arch string, in benchmark-index order."""
        if self._archs is None:
            self._archs = tuple(format_arch(arch_from_code(int(c))) for c in self.codes)
        return self._archs

    def index(self, arch: str | int) -> int:
        """The benchmark index of an arch string (any spacing; validated) or of an index (checked)."""
        if isinstance(arch, int | np.integer) and not isinstance(arch, bool):
            if not 0 <= int(arch) < len(self):
                raise ConfigError(f"nb201 index must be in 0..{len(self) - 1}, got {int(arch)}")
            return int(arch)
        return int(self.index_of_code[arch_code(parse_arch(arch))])

    def arch(self, index: str | int) -> str:
        """The canonical arch string of a benchmark index."""
        return format_arch(arch_from_code(int(self.codes[self.index(index)])))

    def accuracies(self, dataset: str) -> np.ndarray:
        """Test accuracy (percent) of every cell on ``dataset``, in benchmark-index order (read-only)."""
        require_choice("nb201 dataset", dataset, DATASETS)
        return self._accuracy[dataset]

    def accuracy(self, arch: str | int, dataset: str) -> float:
        """200-epoch test accuracy (percent) of one cell on ``dataset``."""
        return float(self.accuracies(dataset)[self.index(arch)])

    def iso(self, arch: str | int) -> int:
        """The smallest benchmark index of a cell computing the same function (isomorphic or differing only
        in dead edges)."""
        return int(self.iso_class[self.index(arch)])

    def optimum(self, dataset: str) -> tuple[int, float]:
        """(index, accuracy) of the best cell on ``dataset``."""
        values = self.accuracies(dataset)
        best = int(np.argmax(values))
        return best, float(values[best])

    def noisy_scores(self, dataset: str, sigma: float, seed: int) -> np.ndarray:
        """Accuracy + Gaussian noise of ``sigma`` points per cell, one draw per cell and seed (index order):
        what one short training run per cell would report. ``sigma=0`` is the table itself."""
        sigma = require_range("--noise", sigma, 0.0, None, "nb201 table")
        seed = require_seed("seed", seed, "nb201 table noise")
        values = self.accuracies(dataset)
        if sigma == 0:
            return values
        return values + sigma * np.random.default_rng([seed, 201]).standard_normal(len(values))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> NB201Table:
    where = f"nb201 table {path!r}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        scale = float(data["scale"])
        return NB201Table(np.array(data["code"]), {d: np.array(data["accuracy"][d]) / scale for d in DATASETS},
                          np.array(data["iso"]))
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__}: {exc})") from None


def compact_table(source: str | os.PathLike[str], about: Sequence[str] = ()) -> dict:
    """The compact table (the layout of ``nb201_accuracy.json``) from the shared full table
    (``{"archs": {arch: [idx, c10, c100, in16, iso]}}``, percentages rounded to 4 decimals)."""
    archs = json.loads(Path(source).read_text(encoding="utf-8"))["archs"]
    n = len(archs)
    code, iso = [0] * n, [0] * n
    accuracy = {d: [0] * n for d in DATASETS}
    for arch, (idx, *values, iso_idx) in archs.items():
        code[idx], iso[idx] = arch_code(parse_arch(arch)), iso_idx
        for d, v in zip(DATASETS, values, strict=True):
            accuracy[d][idx] = round(v * SCALE)
    return {"about": list(about), "scale": SCALE, "datasets": list(DATASETS),
            "code": code, "accuracy": accuracy, "iso": iso}
