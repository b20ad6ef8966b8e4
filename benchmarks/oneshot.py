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
    parser.add_argument("--bn-batches", type=int, default=10, help="training batches for BN recalibration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore the cache in runs/oneshot_bench")
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

    # 1. the supernet (cached and resumable in the cache folder)
    torch.manual_seed(args.seed)
    supernet = NB201Supernet(**shape)
    t0 = time.perf_counter()
    train_supernet(supernet, bundle.train, PathTraining(epochs=args.supernet_epochs, lr=args.lr,
                                                               seed=args.seed),
                          out=cache, data={"data": "fashion-mnist", "limit_train": args.limit_train,
                                           "batch_size": args.batch_size}, log=lambda s: print(s, flush=True))
    supernet_s = time.perf_counter() - t0
    supernet.eval()
    batches = calibration_batches(bundle.train, args.bn_batches)

    # 2. inherited-weight scores
    cells = sample_cells(args.cells, args.seed)
    t0 = time.perf_counter()
    inherited = [inherited_accuracy(supernet, arch, batches, bundle.val) for arch in cells]
    inherited_s = time.perf_counter() - t0
    print(f"inherited-weight scores of {len(cells)} cells in {inherited_s:.1f} s", flush=True)

    # 3. stand-alone short training (cached per cell)
    standalone_file = cache / "standalone.json"
    done = json.loads(standalone_file.read_text()) if standalone_file.is_file() else {}
    budget = PathTraining(epochs=args.standalone_epochs, lr=args.lr, seed=args.seed)
    key_of = {arch: f"{arch}|{args.standalone_epochs}|{args.limit_train}|{args.limit_val}|{args.C}|{args.N}"
              for arch in cells}
    for k, arch in enumerate(cells):
        if key_of[arch] in done:
            continue
        t0 = time.perf_counter()
        torch.manual_seed(args.seed)
        net = cnnlab.create_model("nb201", arch=arch, **shape)
        train_paths(net, bundle.train, budget)
        recalibrate(net, batches)
        done[key_of[arch]] = {"acc": float(evaluate(net, bundle.val)), "seconds": time.perf_counter() - t0}
        atomic_write_text(standalone_file, json.dumps(done, indent=1))
        print(f"stand-alone {k + 1}/{len(cells)}: {done[key_of[arch]]['acc']:.4f} "
              f"({done[key_of[arch]]['seconds']:.0f} s) {arch}", flush=True)
    standalone = [done[key_of[arch]]["acc"] for arch in cells]
    standalone_s = sum(done[key_of[arch]]["seconds"] for arch in cells)

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
        ["stand-alone", f"{args.standalone_epochs} epoch(s) per cell from scratch ({args.standalone_epochs * len(bundle.train)}"
                        " steps), same data, optimizer and schedule"],
        ["BN", f"both scores after recomputing BN statistics on the same {len(batches)} training batches"],
        ["cells", f"{len(cells)} distinct cells, edge ops uniform (seed {args.seed}); {len(live)} of them above "
                  f"{CHANCE + 0.05:.2f} stand-alone accuracy (the 'live' columns)"],
        ["time", f"supernet {supernet_s:.0f} s (0 when loaded from the cache), inherited scores "
                 f"{inherited_s:.0f} s in all, stand-alone {standalone_s:.0f} s in all, run {total_s:.0f} s; "
                 f"torch threads {threads}, on a shared 2-core machine (noisy timings)"],
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
        "so it is a noisy reference: the τ above is a lower bound on how well the supernet ranks what the "
        "stand-alone budget measures. 'live cells' leaves out the cells that stay near chance stand-alone "
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
