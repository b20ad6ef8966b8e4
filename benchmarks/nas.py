"""Honest comparison of the search strategies on a space small enough to enumerate.

    python benchmarks/nas.py [--quick] [--jobs 2] [--replays 20] [--budget 25] [--nasnet-fashion]

1. Ground truth: every cell of cnnlab.nas.micro's space (3 edges x 5 ops = 125 cells) is trained on
   digits with 3 seeds; results are cached in ``results/nas_ground_truth.json`` (atomic writes, so
   a killed run resumes where it stopped).
2. Replay: random, reinforce and evolution search the same space with the same budget of trials,
   each trial scored by one training run (a random one of the seeds: the noise a real search sees);
   regret = best mean accuracy in the space − mean accuracy of the best cell found (by its observed
   score), over ``--replays`` seeds; mean ± std table and a regret-vs-trials plot.
3. ``--nasnet-fashion``: the strategy with the lowest final regret searches the NASNet space on
   Fashion-MNIST; its best genotype is written to ``results/nas_fashion_best.json``.
``--quick``: 3 ops (27 cells), 1 seed, 1 epoch, 10 replays of 8 trials.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from common import (
    RESULTS_DIR,
    add_common_args,
    machine_info_markdown,
    markdown_table,
    pin_threads,
    write_markdown,
)

STRATEGIES = ("random", "reinforce", "evolution")


def _train_cell(edges: tuple[str, ...], seed: int, epochs: int, channels: int) -> float:
    import torch

    torch.set_num_threads(1)
    from cnnlab.nas.evaluate import ChildBudget, train_child

    budget = ChildBudget(epochs=epochs, C=channels, seed=seed, lr=0.1)
    return train_child({"space": "micro", "edges": list(edges)}, "digits", budget)


def _save_json(path: Path, data: dict) -> None:
    from cnnlab.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def ground_truth(ops: tuple[str, ...], seeds: int, epochs: int, channels: int, jobs: int, cache: Path) -> dict:
    """{edges tuple: [accuracy per seed]} for every cell, from the cache where present."""
    from rich.progress import Progress

    settings = {"epochs": epochs, "C": channels, "data": "digits", "lr": 0.1}
    data = json.loads(cache.read_text()) if cache.is_file() else {}
    if data.get("settings") != settings:
        data = {"settings": settings, "results": {}}
    results: dict[str, float] = data["results"]
    cells = list(itertools.product(ops, repeat=3))
    todo = [(c, s) for c in cells for s in range(seeds) if f"{'|'.join(c)}#{s}" not in results]
    start = time.perf_counter()
    spent = data.get("seconds", 0.0)
    with Progress() as bar, ProcessPoolExecutor(max_workers=jobs) as pool:
        task = bar.add_task("ground truth (cell x seed)", total=len(cells) * seeds,
                            completed=len(cells) * seeds - len(todo))
        futures = {pool.submit(_train_cell, c, s, epochs, channels): (c, s) for c, s in todo}
        for future in as_completed(futures):
            c, s = futures[future]
            results[f"{'|'.join(c)}#{s}"] = future.result()
            data["seconds"] = spent + time.perf_counter() - start  # training time over all resumed runs
            _save_json(cache, data)
            bar.advance(task)
    truth = {c: [results[f"{'|'.join(c)}#{s}"] for s in range(seeds)] for c in cells}
    return truth, data.get("seconds", 0.0) / 60


def replay(truth: dict, ops: tuple[str, ...], strategy: str, seed: int, budget: int) -> list[float]:
    """Regret after each trial of one search, scoring trials with one noisy training run each."""
    from cnnlab.nas.run import strategy_options
    from cnnlab.nas.strategies import make_strategy

    choices = (len(ops),) * 3
    optimum = max(statistics.mean(v) for v in truth.values())
    policy = make_strategy(strategy, choices, seed=seed, **strategy_options(strategy, budget))
    rng = np.random.default_rng(10_000 + seed)
    best_seen, best_cell, regrets = -1.0, None, []
    for _ in range(budget):
        tokens = policy.propose()
        cell = tuple(ops[t] for t in tokens)
        runs = truth[cell]
        observed = runs[int(rng.integers(len(runs)))]
        policy.observe(tokens, observed)
        if observed > best_seen:
            best_seen, best_cell = observed, cell
        regrets.append(optimum - statistics.mean(truth[best_cell]))
    return regrets


def _plot(curves: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.atomic import atomic_write

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in curves.items():
        mean, std = runs.mean(0), runs.std(0)
        x = np.arange(1, runs.shape[1] + 1)
        ax.plot(x, mean, label=name)
        ax.fill_between(x, np.maximum(mean - std, 0), mean + std, alpha=0.2)
    ax.set_xlabel("trials")
    ax.set_ylabel("regret (optimum − found), accuracy")
    ax.set_title(f"regret vs trials, mean ± std over {next(iter(curves.values())).shape[0]} searches")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def _nasnet_fashion(strategy: str, trials: int, epochs: int, limit_train: int | None, results: Path) -> str:
    from cnnlab.nas.evaluate import ChildBudget
    from cnnlab.nas.report import search_report
    from cnnlab.nas.run import search

    out = Path("runs") / "nas_fashion"  # journal and strategy state: a run folder, not a result
    start = time.perf_counter()
    result = search(space="nasnet", strategy=strategy, trials=trials, data="fashion-mnist",
                    epochs_per_trial=epochs, out=str(out), study=f"nasnet-{strategy}-fashion",
                    budget=ChildBudget(epochs=epochs, limit_train=limit_train, C=8, N=1))
    report = search_report([result.study_name], out=str(out))
    _save_json(results / "nas_fashion_best.json", report.best.genotype)
    minutes = (time.perf_counter() - start) / 60
    return (f"\n## NASNet space on Fashion-MNIST\n\n{strategy} search, {result.completed} trials of {epochs} epoch(s)"
            f" on {limit_train or 'all'} training images, C=8, N=1: best validation accuracy "
            f"{result.best_value:.4f} ({minutes:.1f} min). Best genotype: `benchmarks/results/nas_fashion_best.json`;"
            f" rebuild it with `cnnlab.create_model(\"nasnet\", genotype=\"benchmarks/results/nas_fashion_best.json\","
            f" num_classes=10, in_chans=1)`.\n")


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--jobs", type=int, default=2, help="processes training cells in parallel")
    parser.add_argument("--replays", type=int, default=None, help="searches per strategy (default 20, quick 10)")
    parser.add_argument("--budget", type=int, default=None, help="trials per search (default 25, quick 8)")
    parser.add_argument("--nasnet-fashion", action="store_true", help="then search the NASNet space on Fashion-MNIST")
    parser.add_argument("--fashion-trials", type=int, default=20)
    parser.add_argument("--fashion-limit-train", type=int, default=10000)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    pin_threads(args.threads or 1)
    from cnnlab.nas.micro import MICRO_OPS

    ops = MICRO_OPS[:3] if args.quick else MICRO_OPS
    seeds, epochs = (1, 1) if args.quick else (3, 2)
    replays = args.replays or (10 if args.quick else 20)
    budget = args.budget or (8 if args.quick else 25)
    suffix = "_quick" if args.quick else ""
    truth, train_minutes = ground_truth(ops, seeds, epochs, 8, args.jobs,
                                        args.results / f"nas_ground_truth{suffix}.json")
    means = {c: statistics.mean(v) for c, v in truth.items()}
    ranked = sorted(means, key=means.get, reverse=True)
    curves = {s: np.array([replay(truth, ops, s, r, budget) for r in range(replays)]) for s in STRATEGIES}
    half = budget // 2
    rows = [[s, f"{c[:, half - 1].mean():.4f} ± {c[:, half - 1].std():.4f}",
             f"{c[:, -1].mean():.4f} ± {c[:, -1].std():.4f}", f"{(c[:, -1] == 0).mean():.0%}"]
            for s, c in curves.items()]
    best_strategy = min(STRATEGIES, key=lambda s: curves[s][:, -1].mean())
    noise = statistics.mean(statistics.pstdev(v) for v in truth.values()) if seeds > 1 else float("nan")
    text = "\n".join([
        f"# NAS strategies on an enumerable space{' (quick)' if args.quick else ''}",
        "",
        f"Space: cnnlab.nas.micro, 3 edges x {len(ops)} ops ({', '.join(ops)}) = {len(truth)} cells; each trained"
        f" {seeds}x on digits for {epochs} epoch(s) (C=8, SGD lr 0.1): {train_minutes:.1f} min of training"
        f" (summed over resumed runs; 0 if the cache predates this count). Best cell {'/'.join(ranked[0])} at {means[ranked[0]]:.4f} mean val accuracy;"
        f" median cell {statistics.median(means.values()):.4f}; mean seed-to-seed std {noise:.4f}.",
        "",
        f"Each search: {budget} trials ({budget / len(truth):.0%} of the space), a trial scored by one training run;"
        f" {replays} searches per strategy. Regret = best mean accuracy − mean accuracy of the cell the search"
        f" picked (its best observed score).",
        "",
        markdown_table(["strategy", f"regret after {half} trials", f"regret after {budget} trials",
                        "searches that found the optimum"], rows),
        "",
        f"Lowest final mean regret: {best_strategy}.",
        "",
        "![regret](nas_regret.png)",
        "",
        machine_info_markdown(),
    ])
    if args.nasnet_fashion:
        text += _nasnet_fashion(best_strategy, args.fashion_trials, 1, args.fashion_limit_train, args.results)
    _plot(curves, args.results / f"nas_regret{suffix}.png")
    path = write_markdown(f"nas{suffix}", text.replace("nas_regret.png", f"nas_regret{suffix}.png"), args.results)
    print(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
