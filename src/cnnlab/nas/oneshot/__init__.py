"""One-shot architecture search on the NAS-Bench-201 cell space (SPOS, Guo et al. 2020, ECCV): a supernet
trained once with uniformly sampled single paths (:mod:`.supernet`, :mod:`.train`), children scored with
inherited weights after BatchNorm recalibration (:mod:`.score`), and the search behind
``cnnlab search --strategy oneshot`` (:mod:`.search`)."""

from __future__ import annotations

from cnnlab.nas.oneshot.score import calibration_batches, inherited_accuracy, recalibrate
from cnnlab.nas.oneshot.supernet import MixedEdge, NB201Supernet, SuperCell, child_state_dict, inherit
from cnnlab.nas.oneshot.train import SUPERNET_FILE, PathTraining, train_paths, train_supernet

__all__ = ["MixedEdge", "NB201Supernet", "SuperCell", "child_state_dict", "inherit", "calibration_batches",
           "recalibrate", "inherited_accuracy", "PathTraining", "train_paths", "train_supernet", "SUPERNET_FILE",
           "oneshot_search"]


def __getattr__(name: str):
    if name == "oneshot_search":  # the search pulls in the engine (Optuna); loaded on first use
        from cnnlab.nas.oneshot.search import oneshot_search

        return oneshot_search
    raise AttributeError(f"module 'cnnlab.nas.oneshot' has no attribute {name!r}")
