"""Search strategies measured against a published ground truth: replayed on the NAS-Bench-201 table.

    python benchmarks/nb201.py [--quick] [--runs 500] [--jobs 2] [--fresh]

Each strategy (random, evolution, reinforce, local, tpe; the strategy objects the engine drives, called
directly) searches the 15,625 cells 500 times (seeds 0..499) per dataset (CIFAR-10, CIFAR-100,
ImageNet16-120) and evaluator (exact: the table's 200-epoch test accuracy; noisy: plus Gaussian noise of
0.5 points, one draw per cell and run) with 25, 50, 100 and 200 queries. Reported: mean ± std of the test
accuracy of the cell each search returns (its best score) and the share of searches returning an optimal
cell. Baselines: random search's exact expectation by order statistics over the table; local search
warm-started from the cells with the most parameters; and, once ``results/nb201_synflow.json``
({arch: synflow score}, written by the zero-cost proxy benchmark) exists, local search and evolution
warm-started from the best of 1,000 random cells by synflow, and local search that also proposes each
neighbourhood in synflow order and moves at the first improvement (proxy-ordered neighbourhoods). A strategy whose options do not change between
two budgets runs once at the larger one and is read at both. Finished runs are cached in
``runs/nb201_bench`` (``--fresh`` ignores the cache). Writes ``results/nb201.md`` and ``nb201_regret.png``
(``--quick``: 4 runs at 25 and 50 queries, ``*_quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
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

BUDGETS = (25, 50, 100, 200)
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
EVALUATORS = {"exact": 0.0, "noisy σ=0.5": 0.5}
NOISY = "noisy σ=0.5"
PROXY_FILE = RESULTS_DIR / "nb201_synflow.json"
PROXY_SAMPLE = 1000  # random cells scored by the proxy per run, the best of them start the search
CACHE = Path("runs") / "nb201_bench"
CODE_VERSION = 1  # bump when a strategy changes, so cached runs are not reused
# Dong & Yang 2020, NAS-Bench-201, Table 5 (test accuracy, mean ± std over 500 runs; reward = 12-epoch
# validation accuracy, 12,000 simulated seconds of search): CIFAR-10 / CIFAR-100 / ImageNet16-120
PUBLISHED = {"random": ((93.70, 0.36), (71.04, 1.07), (44.57, 1.25)),
             "reinforce": ((93.85, 0.37), (71.71, 1.09), (45.24, 1.18))}
OPTIMA = (94.37, 73.51, 47.31)  # the table's best cells (NB201 paper, Table 5, "optimal")
PLAIN = ("random", "evolution", "reinforce", "local", "tpe")


@dataclass(frozen=True)
class Spec:
    key: str  # file-name safe
    label: str
    strategy: str
    warm: str | None = None  # "params" or "synflow"
    ordered: bool = False  # local search: neighbours by the warm start's proxy, first improvement


SPECS = [Spec(s, s, s) for s in PLAIN] + [
    Spec("local-params", "local ← most parameters", "local", "params"),
    Spec("local-synflow", "local ← synflow", "local", "synflow"),
    Spec("evolution-synflow", "evolution ← synflow", "evolution", "synflow"),
    Spec("local-synflow-ordered", "local ← synflow, synflow-ordered neighbours", "local", "synflow", True),
]


def _warm_size(spec: Spec, options: dict) -> int:
    """How many cells a warm start gives: local search's initial set, evolution's first population."""
    if spec.warm is None:
        return 0
    return options["num_init"] if spec.strategy == "local" else options["population_size"]


def groups(spec: Spec, budgets: tuple[int, ...]) -> dict[int, list[int]]:
    """{budget to run: [budgets read from that run]}: budgets whose options agree share the largest one."""
    from cnnlab.nas.strategies import STRATEGIES

    by_options: dict[str, list[int]] = {}
    for b in budgets:
        options = STRATEGIES[spec.strategy].default_options(b)
        key = json.dumps([options, _warm_size(spec, options)], sort_keys=True)
        by_options.setdefault(key, []).append(b)
    return {max(bs): bs for bs in by_options.values()}


def _params_scores() -> np.ndarray:
    from cnnlab.nas.nb201_arch import nb201_params
    from cnnlab.nas.nb201_table import NB201Table

    return np.array([nb201_params(a) for a in NB201Table.load().archs], dtype=np.float64)


def _proxy_scores(path: Path) -> np.ndarray:
    """Synflow score per benchmark index (-inf where the file has none or it is not finite)."""
    from cnnlab.nas.nb201_table import NB201Table

    table = NB201Table.load()
    scores = np.full(len(table), -np.inf)
    for arch, value in json.loads(path.read_text()).items():
        if value is not None and np.isfinite(float(value)):
            scores[table.index(arch)] = float(value)
    return scores


def _unit(spec: Spec, dataset: str, sigma: float, budget: int, seeds: list[int], proxy: str | None
          ) -> tuple[np.ndarray, float]:
    """Returned cell after every query of ``len(seeds)`` searches, and the CPU seconds they took."""
    import torch

    torch.set_num_threads(1)
    from cnnlab.nas.nb201_table import NB201Table
    from cnnlab.nas.replay import index_of_tokens, replay, top_cells
    from cnnlab.nas.strategies import STRATEGIES

    start = time.process_time()
    table = NB201Table.load()
    k = _warm_size(spec, STRATEGIES[spec.strategy].default_options(budget))
    scores = _params_scores() if spec.warm == "params" else _proxy_scores(Path(proxy)) if spec.warm else None
    out = np.empty((len(seeds), budget), dtype=np.int16)
    for row, seed in enumerate(seeds):
        warm = None
        if spec.warm == "params":
            warm = top_cells(table, scores, k)
        elif spec.warm == "synflow":
            sample = np.random.default_rng([seed, 7]).choice(len(table), PROXY_SAMPLE, replace=False)
            warm = top_cells(table, scores, k, candidates=sample)
        options = {}
        if spec.ordered:  # a zero-cost score of any cell: no query is spent on it
            options = {"rank": lambda tokens: scores[index_of_tokens(table, tokens)], "first_improvement": True}
        out[row] = replay(spec.strategy, dataset, budget, seed, noise=sigma, table=table, warm_start=warm,
                          **options)
    return out, time.process_time() - start


def _cache_path(spec: Spec, dataset: str, evaluator: str, budget: int, seeds: list[int], proxy_digest: str) -> Path:
    tag = zlib.crc32(json.dumps([CODE_VERSION, spec.strategy, spec.warm, EVALUATORS[evaluator], PROXY_SAMPLE,
                                 proxy_digest if spec.warm == "synflow" else ""]
                                + (["ordered"] if spec.ordered else [])).encode())
    name = f"{spec.key}-{dataset}-{'noisy' if EVALUATORS[evaluator] else 'exact'}-b{budget}-s{seeds[0]}-{seeds[-1]}"
    return CACHE / f"{name}-{tag:08x}.npy"


def run_all(specs: list[Spec], budgets: tuple[int, ...], runs: int, jobs: int, fresh: bool, chunk: int
            ) -> tuple[dict, dict[str, float]]:
    """{(spec key, dataset, evaluator, run budget): (runs, run budget) returned indices}; CPU s per spec."""
    proxy = str(PROXY_FILE) if PROXY_FILE.is_file() else None
    digest = f"{zlib.crc32(PROXY_FILE.read_bytes()):08x}" if proxy else ""
    CACHE.mkdir(parents=True, exist_ok=True)
    seeds = list(range(runs))
    chunks = [seeds[i:i + chunk] for i in range(0, runs, chunk)]
    todo, parts = [], {}
    for spec in specs:
        for dataset in DATASETS:
            for evaluator in EVALUATORS:
                for budget in groups(spec, budgets):
                    for part in chunks:
                        path = _cache_path(spec, dataset, evaluator, budget, part, digest)
                        key = (spec.key, dataset, evaluator, budget)
                        if path.is_file() and not fresh:
                            parts.setdefault(key, {})[part[0]] = np.load(path)
                        else:
                            todo.append((spec, dataset, evaluator, budget, part, path))
    cost = {"reinforce": 6, "tpe": 4}  # slowest first, so the two workers end together
    todo.sort(key=lambda t: -cost.get(t[0].strategy, 1) * t[3])
    cpu: dict[str, float] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_unit, spec, dataset, EVALUATORS[evaluator], budget, part, proxy):
                   (spec, dataset, evaluator, budget, part, path)
                   for spec, dataset, evaluator, budget, part, path in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            spec, dataset, evaluator, budget, part, path = futures[future]
            returned, seconds = future.result()
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, returned)
            os.replace(tmp, path)
            parts.setdefault((spec.key, dataset, evaluator, budget), {})[part[0]] = returned
            cpu[spec.key] = cpu.get(spec.key, 0.0) + seconds
            print(f"[{done}/{len(todo)}] {spec.label} {dataset} {evaluator} {budget} queries, seeds "
                  f"{part[0]}..{part[-1]}: {seconds:.1f} CPU s ({time.perf_counter() - started:.0f} s so far)",
                  flush=True)
    results = {key: np.concatenate([p[s] for s in sorted(p)]) for key, p in parts.items()}
    return results, cpu


def _cell(values: np.ndarray, optimum: float) -> str:
    return f"{values.mean():.2f} ± {values.std():.2f} ({(values == optimum).mean():.1%})"


def summarise(results: dict, specs: list[Spec], budgets: tuple[int, ...]) -> dict:
    """{(spec key, dataset, evaluator, budget): accuracies of the returned cells}."""
    from cnnlab.nas.nb201_table import NB201Table

    table = NB201Table.load()
    out = {}
    for spec in specs:
        for run_budget, read in groups(spec, budgets).items():
            for dataset in DATASETS:
                values = table.accuracies(dataset)
                for evaluator in EVALUATORS:
                    key = (spec.key, dataset, evaluator, run_budget)
                    if key in results:
                        for b in read:
                            out[(spec.key, dataset, evaluator, b)] = values[results[key][:, b - 1]]
    return out


def curves(results: dict, specs: list[Spec], budgets: tuple[int, ...], evaluator: str) -> dict:
    """{(spec key, dataset): mean regret after each query} from each spec's run at the largest budget."""
    from cnnlab.nas.nb201_table import NB201Table

    table = NB201Table.load()
    out = {}
    for spec in specs:
        top = max(groups(spec, budgets))
        for dataset in DATASETS:
            key = (spec.key, dataset, evaluator, top)
            if key in results:
                values = table.accuracies(dataset)
                out[(spec.key, dataset)] = values.max() - values[results[key]].mean(0)
    return out


def plot(regret: dict, random_curves: dict, specs: list[Spec], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.atomic import atomic_write

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=False)
    for ax, dataset in zip(axes, DATASETS, strict=True):
        for spec in specs:
            if (spec.key, dataset) in regret:
                curve = regret[(spec.key, dataset)]
                ax.plot(np.arange(1, len(curve) + 1), curve, label=spec.label,
                        linestyle="--" if spec.warm else "-")
        x, y = random_curves[dataset]
        ax.plot(x, y, color="black", linestyle=":", label="random, order statistics")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{dataset}, noisy σ=0.5")
        ax.set_xlabel("queries")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("regret: optimum − test acc of returned cell (points)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def targets(acc: dict, specs: list[Spec]) -> tuple[list[list[str]], str]:
    """The targets at 100 noisy queries, met or missed: once for the plain strategies (no proxy), once
    for every cnnlab strategy including the zero-cost-proxy-guided ones (the parameter baseline excluded)."""
    keys = {s.key for s in specs}
    labels = {s.key: s.label for s in specs}
    rows, summary = [], []
    for kind, pool in (("plain strategy", PLAIN), ("cnnlab strategy, proxy-guided included",
                                                    tuple(k for k in keys if k != "local-params"))):
        wins, lines = 0, []
        for d, dataset in enumerate(DATASETS):
            means = {s: acc[(s, dataset, NOISY, 100)].mean() for s in pool if (s, dataset, NOISY, 100) in acc}
            best = max(means, key=means.get)
            published = PUBLISHED["reinforce"][d][0]
            rows.append([f"best {kind} > published REINFORCE mean ({published:.2f}), {dataset}",
                         f"{labels[best]} {means[best]:.2f}", "met" if means[best] > published else "missed"])
            if "local-params" in keys:
                base = acc[("local-params", dataset, NOISY, 100)].mean()
                wins += means[best] > base
                lines.append(f"{dataset}: {labels[best]} {means[best]:.2f} vs {base:.2f}")
        if "local-params" in keys:
            rows.append([f"best {kind} > local search from the most-parameter cells, ≥ 2 of 3 datasets",
                         f"{wins} of 3 ({'; '.join(lines)})", "met" if wins >= 2 else "missed"])
            summary.append(f"{kind}: {wins}")
    return rows, "; ".join(summary)


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--runs", type=int, default=None, help="searches per strategy, dataset and evaluator "
                                                                "(default 500, quick 4)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--fresh", action="store_true", help="ignore the cached runs in runs/nb201_bench")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    pin_threads(args.threads or 1)
    from cnnlab.nas.nb201_table import NB201Table
    from cnnlab.nas.replay import random_search_expected

    budgets = (25, 50) if args.quick else BUDGETS
    runs = args.runs or (4 if args.quick else 500)
    suffix = "_quick" if args.quick else ""
    proxy_present = PROXY_FILE.is_file()
    specs = [s for s in SPECS if s.warm != "synflow" or proxy_present]
    start = time.perf_counter()
    results, cpu = run_all(specs, budgets, runs, args.jobs, args.fresh, chunk=max(1, min(100, runs)))
    wall = time.perf_counter() - start
    acc = summarise(results, specs, budgets)
    table = NB201Table.load()

    random_curves, expected = {}, {}
    for dataset in DATASETS:
        values = table.accuracies(dataset)
        for evaluator, sigma in EVALUATORS.items():
            for b, e in zip(budgets, random_search_expected(values, list(budgets), noise=sigma), strict=True):
                expected[(dataset, evaluator, b)] = e
        x = np.unique(np.round(np.geomspace(1, max(budgets), 40)).astype(int))
        noisy = random_search_expected(values, list(x), noise=EVALUATORS[NOISY])
        random_curves[dataset] = (x, [values.max() - e.mean for e in noisy])

    sections = []
    for d, dataset in enumerate(DATASETS):
        optimum = table.accuracies(dataset).max()
        rows = []
        for evaluator in EVALUATORS:
            rows.append(["random, order statistics (exact expectation)", evaluator]
                        + [f"{expected[(dataset, evaluator, b)].mean:.2f} ± {expected[(dataset, evaluator, b)].std:.2f}"
                           f" ({expected[(dataset, evaluator, b)].p_optimum:.1%})" for b in budgets])
            for spec in specs:
                rows.append([spec.label, evaluator] + [_cell(acc[(spec.key, dataset, evaluator, b)], optimum)
                                                       for b in budgets])
        for name, published in PUBLISHED.items():
            mean, std = published[d]
            rows.append([f"{name}, published (NB201 Table 5)", "12-epoch validation reward, 12,000 s"]
                        + [""] * (len(budgets) - 1) + [f"{mean:.2f} ± {std:.2f}"])
        sections += [f"### {dataset} (optimum {optimum:.2f} %, {int((table.accuracies(dataset) == optimum).sum())}"
                     f" optimal cell(s))", "",
                     markdown_table(["strategy", "evaluator", *(f"{b} queries" for b in budgets)], rows), ""]

    target_rows, _ = targets(acc, specs) if not args.quick else ([], "")
    proxy_line = (f"Synflow warm starts read `benchmarks/results/nb201_synflow.json` "
                  f"({int(np.isfinite(_proxy_scores(PROXY_FILE)).sum()):,} of 15,625 cells scored)."
                  if proxy_present else
                  "**Synflow-warm-started local search and evolution: not run** — "
                  "`benchmarks/results/nb201_synflow.json` (synflow for all cells, written by the zero-cost "
                  "proxy benchmark) does not exist yet. Run this benchmark again once it does (finished runs are "
                  "cached, only the new rows run).")
    cmd = "python benchmarks/nb201.py" + (" --quick" if args.quick else "") + (
        f" --runs {args.runs}" if args.runs else "")
    text = "\n".join([
        f"# Search strategies on the NAS-Bench-201 table{' (quick)' if args.quick else ''}",
        "",
        f"`{cmd}` — {runs} seeded searches per strategy × dataset × evaluator, budgets "
        f"{', '.join(map(str, budgets))} queries; {wall / 60:.1f} min wall on {args.jobs} processes.",
        "",
        "Every query reads one cell's 200-epoch **test** accuracy from the NB201 table (exact), or that plus "
        "Gaussian noise of σ = 0.5 points drawn once per cell and search (noisy: a short training run's "
        "error). A search returns the cell with its best score; the tables give the mean ± std over the "
        "searches of that cell's test accuracy, and in brackets the share of searches that returned an optimal "
        "cell. The reward here is the same number that is reported (noisy: plus noise), which is optimistic "
        "against the published rows: NB201's searches were rewarded with the 12-epoch *validation* accuracy for "
        "12,000 simulated seconds of search (about 100 12-epoch trainings on CIFAR-10) and report the 200-epoch "
        "test accuracy — a different, harder reward; they are reference points, not a like-for-like race.",
        "",
        "Strategies run with their defaults for the budget (`Strategy.default_options`): evolution population "
        "≈ budget/4 and sample ≈ population/4; local search from the best of min(10, budget/10) random cells; "
        "TPE with min(10, budget/10) random start-up trials; REINFORCE: LSTM controller, Adam lr 0.01, "
        "baseline decay 0.8. `local ← most parameters` starts local search from the cells with the most "
        "parameters (as many as its random start would have, ties by index); `… ← synflow` starts from the "
        f"best of {PROXY_SAMPLE:,} random cells by synflow (zero-cost, not counted as queries).",
        "",
        proxy_line,
        "",
        *sections,
        *(["## Targets (at 100 noisy queries)", "",
           "\"Plain strategy\": the five strategies of `cnnlab search` (random, evolution, reinforce, local, tpe), "
           "without a warm start. \"Proxy-guided included\": also the synflow warm starts and synflow-ordered "
           "neighbourhoods (zero-cost: no query is spent on a proxy score); the parameter-warm-started local search "
           "is the baseline, never a candidate.", "",
           markdown_table(["target", "measured", "status"], target_rows), ""] if target_rows else []),
        "## Cost",
        "",
        markdown_table(["strategy", "CPU s (all its searches, this run)"],
                       [[s.label, f"{cpu.get(s.key, 0.0):.0f}"] for s in specs]),
        "",
        "CPU seconds count only the searches run now (cached ones cost nothing); TPE's and REINFORCE's are "
        "the sampler's and the controller's work — a table look-up is free.",
        "",
        f"![regret](nb201_regret{suffix}.png)",
        "",
        "Regret = the optimum − the mean test accuracy of the returned cell, noisy evaluator, each strategy's "
        "run at the largest budget (log–log); dotted: random search's exact expectation.",
        "",
        machine_info_markdown(),
    ])
    plot(curves(results, specs, budgets, NOISY), random_curves, specs, args.results / f"nb201_regret{suffix}.png")
    path = write_markdown(f"nb201{suffix}", text, args.results)
    print(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
