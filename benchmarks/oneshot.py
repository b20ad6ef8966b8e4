"""How well a one-shot supernet ranks NAS-Bench-201 cells on Fashion-MNIST (SPOS, Guo et al. 2020).

    python benchmarks/oneshot.py [--quick] [--threads 1] [--cells 30] [--fresh]

1. A single-path supernet over the NB201 cell space (C=8, N=1, 1x28x28 input) is trained once with
   uniform path sampling on a seeded subset of Fashion-MNIST's training images.
2. ``--cells`` distinct cells drawn uniformly (seeded) are scored with inherited weights after BatchNorm
   recalibration on the same training batches, on a held-out validation split (part of the 10 % of the
   training images that training never sees).
3. The same cells are trained stand-alone from scratch under one short budget each (same optimizer, schedule,
   data and BatchNorm recalibration as the supernet) and evaluated on the same validation images.
4. Kendall τ and Spearman ρ (scipy) between the two scores; for context each against the NB201 table's
   200-epoch CIFAR-10 test accuracy, and a free baseline: the cell's parameter count.

Finished pieces (the supernet, each stand-alone run) are cached in ``runs/oneshot_bench`` (``--fresh``
ignores it), so a killed run resumes. Writes ``results/oneshot.md`` (``--quick``: ``oneshot_quick.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

import cnnlab
from cnnlab.atomic import atomic_write_text
from cnnlab.data import make_loaders
from cnnlab.nas.nb201_arch import NB201_EDGES, NB201_OPS, format_arch, nb201_params
from cnnlab.nas.nb201_table import NB201Table
from cnnlab.nas.oneshot import (
    NB201Supernet,
    PathTraining,
    calibration_batches,
    inherited_accuracy,
    recalibrate,
    train_paths,
    train_supernet,
)
from cnnlab.train.evaluate import evaluate
from common import (
    RESULTS_DIR,
    add_common_args,
    machine_info_markdown,
    markdown_table,
    pin_threads,
    write_markdown,
)

CACHE = Path(__file__).resolve().parents[1] / "runs" / "oneshot_bench"
CHANCE = 0.1  # ten classes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--cells", type=int, default=30, help="cells scored both ways (≥ 30 for the result)")
    parser.add_argument("--C", type=int, default=8, help="channels of the first stage")
    parser.add_argument("--N", type=int, default=1, help="cells per stage")
    parser.add_argument("--limit-train", type=int, default=8_000, help="training images (seeded subset)")
    parser.add_argument("--limit-val", type=int, default=2_000, help="validation images (seeded subset)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05, help="peak lr, SGD Nesterov, cosine to 0 per step")
    parser.add_argument("--supernet-epochs", type=int, default=8)
    parser.add_argument("--standalone-epochs", type=int, default=1)
    parser.add_argument("--standalone-limit-train", type=int, default=4_000,
                        help="training images of each stand-alone run (the first of the supernet's subset)")
    parser.add_argument("--standalone-batch-size", type=int, default=32)
    parser.add_argument("--worker", type=int, default=0, help="this worker's number (the main run: 0)")
    parser.add_argument("--workers", type=int, default=1, help="stand-alone workers: the main run and its helpers")
    parser.add_argument("--bn-batches", type=int, default=10, help="training batches for BN recalibration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore the cache in runs/oneshot_bench")
    parser.add_argument("--standalone-only", action="store_true",
                        help="a helper process: only the stand-alone runs, from the last cell backwards, sharing "
                             "the cache with the main run (which skips what the helper finished)")
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = 1
    if args.quick:
        args.cells, args.limit_train, args.limit_val = 6, 1_000, 500
        args.supernet_epochs, args.standalone_epochs = 2, 1
    return args


def sample_cells(count: int, seed: int) -> list[str]:
    """``count`` distinct cells, each edge's op uniform (seeded)."""
    rng = np.random.default_rng([seed, 201])
    cells: list[str] = []
    while len(cells) < count:
        arch = format_arch([NB201_OPS[int(i)] for i in rng.integers(len(NB201_OPS), size=len(NB201_EDGES))])
        if arch not in cells:
            cells.append(arch)
    return cells


def standalone_key(args: argparse.Namespace, arch: str) -> str:
    return (f"{arch}|{args.standalone_epochs}|{args.standalone_limit_train}|{args.standalone_batch_size}|"
            f"{args.limit_val}|{args.C}|{args.N}|{args.lr}")


def read_standalone(cache: Path) -> dict[str, dict[str, float]]:
    """Every finished stand-alone run, from every worker's file (``standalone-w<k>.json``)."""
    done: dict[str, dict[str, float]] = {}
    for path in sorted(cache.glob("standalone-w*.json")):
        done.update(json.loads(path.read_text()))
    return done


def run_standalone(args, cells, bundle, batches, shape, budget, cache, direction):
    train_loader = make_loaders("fashion-mnist", batch_size=args.standalone_batch_size, val_fraction=0.1,
                                seed=args.seed, limit_train=args.standalone_limit_train, limit_val=1,
                                limit_test=1).train
    """Train the cells not yet done (in order, or in reverse for the helper), each from the same seed; each
    result is written at once to this worker's file, and the other workers' files are read before every cell."""
    mine_file = cache / f"standalone-{direction}.json"
    mine = json.loads(mine_file.read_text()) if mine_file.is_file() else {}
    order = list(enumerate(cells))
    k, w = args.worker, args.workers  # worker k of W (the main run is worker 0): its share first, then the rest
    order = order[k::w] + [item for item in order[::-1] if item not in order[k::w]]
    for k, arch in order:
        key = standalone_key(args, arch)
        if key in read_standalone(cache):
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        torch.manual_seed(args.seed)
        net = cnnlab.create_model("nb201", arch=arch, **shape)
        train_paths(net, train_loader, budget)
        recalibrate(net, batches)
        mine[key] = {"acc": float(evaluate(net, bundle.val)), "seconds": time.perf_counter() - t0,
                     "cpu_s": time.process_time() - c0}
        atomic_write_text(mine_file, json.dumps(mine, indent=1))
        print(f"stand-alone {k + 1}/{len(cells)} ({direction}): {mine[key]['acc']:.4f} "
              f"({mine[key]['seconds']:.0f} s) {arch}", flush=True)
    return read_standalone(cache)


def tau_rho(a: list[float], b: list[float]) -> tuple[float, float, float]:
    tau = stats.kendalltau(a, b)
    rho = stats.spearmanr(a, b)
    return float(tau.statistic), float(tau.pvalue), float(rho.statistic)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    threads = pin_threads(args.threads)
    name = "oneshot_quick" if args.quick else "oneshot"
    cache = CACHE / name
    if args.fresh and cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bundle = make_loaders("fashion-mnist", batch_size=args.batch_size, val_fraction=0.1, seed=args.seed,
                          limit_train=args.limit_train, limit_val=args.limit_val, limit_test=1)
    shape = dict(num_classes=bundle.num_classes, in_chans=bundle.in_chans, C=args.C, N=args.N)

    if args.standalone_only:
        batches = calibration_batches(bundle.train, args.bn_batches)
        budget = PathTraining(epochs=args.standalone_epochs, lr=args.lr, seed=args.seed)
        run_standalone(args, sample_cells(args.cells, args.seed), bundle, batches, shape, budget, cache,
                       f"w{args.worker}")
        return

    # 1. the supernet (cached and resumable in the cache folder)
    torch.manual_seed(args.seed)
    supernet = NB201Supernet(**shape)
    t0, c0 = time.perf_counter(), time.process_time()
    info = train_supernet(supernet, bundle.train, PathTraining(epochs=args.supernet_epochs, lr=args.lr, seed=args.seed),
                          out=cache, data={"data": "fashion-mnist", "limit_train": args.limit_train,
                                           "batch_size": args.batch_size}, log=lambda s: print(s, flush=True))
    timing_file = cache / "timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    if info["epochs_run"]:  # time spent on the supernet, summed over the runs that trained part of it
        timing["supernet_s"] = timing.get("supernet_s", 0.0) + time.perf_counter() - t0
        timing["supernet_cpu_s"] = timing.get("supernet_cpu_s", 0.0) + time.process_time() - c0
        timing["supernet_epochs_timed"] = timing.get("supernet_epochs_timed", 0) + info["epochs_run"]
        atomic_write_text(timing_file, json.dumps(timing, indent=1))
    supernet.eval()
    batches = calibration_batches(bundle.train, args.bn_batches)

    # 2. inherited-weight scores
    cells = sample_cells(args.cells, args.seed)
    inherited_file = cache / "inherited.json"
    inherited_done = json.loads(inherited_file.read_text()) if inherited_file.is_file() else {}
    for arch in cells:
        if arch not in inherited_done:
            t0, c0 = time.perf_counter(), time.process_time()
            acc = inherited_accuracy(supernet, arch, batches, bundle.val)
            inherited_done[arch] = {"acc": acc, "seconds": time.perf_counter() - t0,
                                    "cpu_s": time.process_time() - c0}
            atomic_write_text(inherited_file, json.dumps(inherited_done, indent=1))
            print(f"inherited {arch}: {acc:.4f}", flush=True)
    inherited = [inherited_done[arch]["acc"] for arch in cells]
    inherited_s = sum(inherited_done[arch]["seconds"] for arch in cells)
    inherited_cpu_s = sum(inherited_done[arch]["cpu_s"] for arch in cells)

    # 3. stand-alone short training (cached per cell; --standalone-only helpers may share the work)
    budget = PathTraining(epochs=args.standalone_epochs, lr=args.lr, seed=args.seed)
    done = run_standalone(args, cells, bundle, batches, shape, budget, cache, "w0")
    standalone = [done[standalone_key(args, arch)]["acc"] for arch in cells]
    standalone_s = sum(done[standalone_key(args, arch)]["seconds"] for arch in cells)
    standalone_cpu = [done[standalone_key(args, arch)].get("cpu_s") for arch in cells]
    standalone_cpu_s = None if None in standalone_cpu else sum(standalone_cpu)

    # 4. rank correlations
    table = NB201Table.load()
    cifar10 = [table.accuracy(arch, "cifar10") for arch in cells]
    params = [float(nb201_params(arch, **shape)) for arch in cells]
    live = [i for i, acc in enumerate(standalone) if acc > CHANCE + 0.05]
    pairs = [("inherited (supernet)", "stand-alone", inherited, standalone),
             ("inherited (supernet)", "NB201 CIFAR-10 (200 epochs)", inherited, cifar10),
             ("stand-alone", "NB201 CIFAR-10 (200 epochs)", standalone, cifar10),
             ("parameter count", "stand-alone", params, standalone)]
    rows = []
    for a_name, b_name, a, b in pairs:
        tau, p, rho = tau_rho(a, b)
        sub = tau_rho([a[i] for i in live], [b[i] for i in live]) if len(live) >= 3 else (float("nan"),) * 3
        rows.append([a_name, b_name, f"{tau:.3f}", f"{p:.2g}", f"{rho:.3f}", f"{sub[0]:.3f}", f"{sub[2]:.3f}"])
    total_s = time.perf_counter() - started
    supernet_time = ("supernet not timed (trained before timing was recorded)" if "supernet_s" not in timing else
                     f"supernet {timing['supernet_s']:.0f} s ({timing['supernet_cpu_s']:.0f} CPU s) for "
                     f"{timing['supernet_epochs_timed']} timed epoch(s)")
    cpu_text = "CPU time not recorded" if standalone_cpu_s is None else f"{standalone_cpu_s:.0f} CPU s"
    print(f"this invocation ran {total_s:.0f} s", flush=True)

    command = "python benchmarks/oneshot.py " + " ".join(sys.argv[1:] if argv is None else argv)
    budget_rows = [
        ["data", f"Fashion-MNIST, 1x28x28 (in_chans=1, native size: 28 is divisible by 4), {args.limit_train:,} "
                 f"training images (seeded subset), {len(bundle.val.dataset):,} validation images (seeded part of "
                 "the 10 % held out of the training split)"],
        ["network", f"NB201 skeleton, C={args.C}, N={args.N}, every cell the same arch"],
        ["optimizer", f"SGD momentum 0.9 Nesterov, peak lr {args.lr}, cosine to 0 per step, weight decay 5e-4 "
                      f"(not on BN/bias), batch {args.batch_size}"],
        ["supernet", f"{args.supernet_epochs} epochs, one uniformly sampled path per step "
                     f"({args.supernet_epochs * len(bundle.train)} steps; each op on each edge is trained in ~1/5 "
                     "of them)"],
        ["stand-alone", f"{args.standalone_epochs} epoch(s) per cell from scratch on the first "
                        f"{args.standalone_limit_train:,} of those training images, batch {args.standalone_batch_size} "
                        f"({args.standalone_epochs * -(-args.standalone_limit_train // args.standalone_batch_size)} "
                        "steps), same optimizer, schedule and seed for every cell"],
        ["BN", f"both scores after recomputing BN statistics on the same {len(batches)} training batches"],
        ["cells", f"{len(cells)} distinct cells, edge ops uniform (seed {args.seed}); {len(live)} of them above "
                  f"{CHANCE + 0.05:.2f} stand-alone accuracy (the 'live' columns)"],
        ["time (wall)", f"{supernet_time}; inherited scores {inherited_s:.0f} s for all {len(cells)} cells "
                        f"({inherited_cpu_s:.0f} CPU s); stand-alone {standalone_s:.0f} s summed over cells "
                        f"({cpu_text}); {args.workers} worker process(es) of {threads} torch thread(s) shared the stand-alone runs "
                        "(the main run and `--standalone-only --worker k` helpers), on a 2-core machine shared with "
                        f"other jobs (load average at the end: {os.getloadavg()[0]:.1f}), so wall times are noisy"],
    ]
    cell_rows = [[i + 1, table.index(arch), f"`{arch}`", f"{inh:.4f}", f"{st:.4f}", f"{c10:.2f}", int(p)]
                 for i, (arch, inh, st, c10, p) in enumerate(zip(cells, inherited, standalone, cifar10, params,
                                                                 strict=True))]
    text = "\n\n".join([
        "# One-shot supernet (SPOS) against stand-alone training on Fashion-MNIST",
        f"Command: `{command}`",
        markdown_table(["setting", "value"], budget_rows),
        "## Rank correlations",
        markdown_table(["score", "against", "Kendall τ", "p (τ)", "Spearman ρ", "τ live cells", "ρ live cells"],
                       rows),
        "τ = 1: the same order; 0: unrelated. The stand-alone score is itself one short run per cell (one seed), "
        "so it is a noisy reference: its noise pulls τ towards 0, so the τ above tends to understate how well "
        "the supernet ranks what the stand-alone budget measures. 'live cells' leaves out the cells that stay near "
        "chance stand-alone "
        "(e.g. no path from the input to the output), which any score ranks last and which inflate τ.",
        "## Cells",
        markdown_table(["#", "NB201 index", "arch", "inherited", "stand-alone", "NB201 CIFAR-10 %", "params"],
                       cell_rows),
        "## Machine",
        machine_info_markdown(),
    ])
    path = write_markdown(name, text, RESULTS_DIR)
    print(f"wrote {path}", flush=True)
    print(markdown_table(["score", "against", "Kendall τ", "p (τ)", "Spearman ρ", "τ live", "ρ live"], rows))


if __name__ == "__main__":
    main()
