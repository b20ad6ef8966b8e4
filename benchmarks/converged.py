"""The comparison at convergence: ``cnnlab compare --budget converged`` on the lecture's networks, recorded.

    python benchmarks/converged.py [--quick] [--threads N] [--seeds S] [--epochs E] [--with-vgg] [--extra SPEC]

Full run: resnet18, mobilenet_v1, mobilenet_v2 and googlenet at 32x32 on Fashion-MNIST under the converged
budget (cnnlab.train.recipes "converged": all 60,000 training images, 20 epochs of SGD with Nesterov momentum,
cosine schedule, label smoothing 0.1, random crop + flip, BatchNorm statistics recomputed; the full 10,000-image
test set). On the 2-core machine a training step reaches 260 (resnet18), 400 (mobilenet_v2), 470
(mobilenet_v1) and 500 (googlenet) images/s at 32x32, batch 128, 2 threads (measured 2026-12-01), so the
recipe's 20 epochs of the four take about 4.5 hours; ``--epochs E`` sets a smaller stated budget (the recorded
table says which). VGG-11-BN trains at ~65 images/s here (5 hours per 20 epochs): ``--with-vgg`` adds it,
for a GPU or a machine with the time. The comparison resumes: rerunning the same command continues
where it stopped (benchmarks/results/ holds the table; reports/converged/ the report and run folders).

``--extra SPEC`` (repeatable) adds a model spec under the same budget, e.g. the network a search found
(benchmarks/fashion_search.py does). Writes benchmarks/results/converged.md (``--quick``: 1 epoch on 1,000 training images, 500 test images,
into converged_quick.md — a smoke run of the pipeline, not a result) with the accuracy of each network,
its binomial ±2σ, the seed spread (with ≥ 2 seeds) and the anchors of Fashion-MNIST's submitted-results
table (github.com/zalandoresearch/fashion-mnist, "Benchmark": test accuracy of submitted models), and the same
rows with their date and command as cnnlab's recorded convergence numbers (cnnlab.compare.recorded), which
``compare`` and ``make demo`` show next to a live short run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console

from cnnlab.compare import CompareConfig, LatencySettings, run_compare, specs_from_registry
from cnnlab.compare.recorded import recorded_from_rows, write_recorded
from cnnlab.train.recipes import recipe_settings
from common import add_common_args, machine_info_markdown, markdown_table, pin_threads, write_markdown

MODELS = ["resnet18", "mobilenet_v1", "mobilenet_v2", "googlenet"]
# Fashion-MNIST's submitted-results table (zalandoresearch/fashion-mnist README, "Benchmark"), test accuracy %;
# those entries train at 28x28 with their own recipes, so they anchor the scale, they are not the same run
ANCHORS = {"mobilenet_v1": ("MobileNet", 95.0), "mobilenet_v2": ("MobileNet", 95.0), "resnet18": ("ResNet18", 94.9),
           "googlenet": ("GoogLeNet", 93.7), "vgg11_bn": ("VGG16", 93.5)}
FULL = {"epochs": None, "limit_train": None, "limit_eval": None}
QUICK = {"epochs": 1, "limit_train": 1000, "limit_eval": 500}
REPO = Path(__file__).resolve().parent.parent
RECIPE_EPOCHS = recipe_settings("converged")["epochs"]


def _training_seconds(run_dir: Path) -> float:
    """Wall seconds of a run's epochs (training, BN recomputation and the per-epoch test pass), from its
    metrics.jsonl: a resumed or reused run keeps the time it took."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return 0.0
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sum(float(r.get("epoch_seconds", 0.0)) for r in lines)


def converged_config(out: Path, epochs: int | None, title: str, limit_train: int | None = None,
                     limit_eval: int | None = None, seeds: int = 1) -> CompareConfig:
    """The recorded comparison's configuration (Fashion-MNIST at 32x32, the converged recipe, E epochs; None: the
    recipe's own): every run trained under it shares one budget, whichever script starts it."""
    return CompareConfig(out=out, data="fashion-mnist", image_size=32, budget="converged", epochs=epochs,
                         limit_train=limit_train, limit_eval=limit_eval, seeds=seeds,
                         latency=LatencySettings(warmup=1, repeats=3, threads=1), title=title)


def main() -> None:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--seeds", type=int, default=1, help="seeds per network (the seed spread needs ≥ 2)")
    parser.add_argument("--epochs", type=int, default=None, help="E (default: the converged recipe's 20)")
    parser.add_argument("--with-vgg", action="store_true", help="add vgg11_bn (~65 images/s on the 2-core CPU)")
    parser.add_argument("--extra", action="append", default=[], metavar="SPEC",
                        help="another model spec under the same budget (repeatable), e.g. a found network")
    args = parser.parse_args()
    cfg = dict(QUICK if args.quick else FULL)
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    threads = pin_threads(args.threads)
    models = MODELS + (["vgg11_bn"] if args.with_vgg else []) + args.extra
    out = REPO / "reports" / ("converged_quick" if args.quick else "converged")
    started = time.perf_counter()
    config = converged_config(out, cfg["epochs"], "Fashion-MNIST at convergence" + (" (quick)" if args.quick else ""),
                              cfg["limit_train"], cfg["limit_eval"], args.seeds)
    result = run_compare(specs_from_registry(models), config, Console(stderr=True))
    seconds = time.perf_counter() - started
    trained_s = sum(_training_seconds(out / "runs" / row.model) for row in result.rows)
    rows = []
    for row in result.rows:
        anchor_name, anchor = ANCHORS.get(row.model, ("—", None))
        rows.append([
            row.model, f"{row.params / 1e6:.2f} M", f"{row.macs / 1e6:.1f} M", row.epochs, row.train_images,
            f"{row.test_top1:.2f}", f"± {row.test_top1_2sigma:.2f}",
            "—" if row.test_top1_seed_sd is None else f"{row.test_top1_seed_sd:.2f}",
            f"{row.train_images_per_second:.0f}",
            "—" if anchor is None else f"{anchor_name} {anchor:.1f}",
        ])  # fmt: skip
    command = "python benchmarks/converged.py" + (" --quick" if args.quick else "") + \
        (f" --epochs {args.epochs}" if args.epochs else "") + (f" --seeds {args.seeds}" if args.seeds != 1 else "") + \
        (" --with-vgg" if args.with_vgg else "") + "".join(f' --extra "{spec}"' for spec in args.extra) + \
        (f" --threads {args.threads}" if args.threads else "")  # fmt: skip
    text = "\n\n".join([
        "# Fashion-MNIST at convergence: `cnnlab compare --budget converged`" + (" (quick)" if args.quick else ""),
        f"Command: `{command}` ({seconds / 60:.1f} min for this invocation, which reuses finished runs; "
        f"{trained_s / 60:.0f} min of training summed over the runs' epochs, {threads} torch thread(s)); "
        "report and run folders in "
        f"`{out.relative_to(REPO)}/`. Equivalent command line: `cnnlab compare {' '.join(models)} --budget converged "
        f"--image-size 32 --out {out.relative_to(REPO)}"
        + (f" --epochs {cfg['epochs']}" if cfg["epochs"] else "")
        + (f" --limit-train {cfg['limit_train']} --limit-eval {cfg['limit_eval']}" if args.quick else "")
        + (f" --seeds {args.seeds}" if args.seeds != 1 else "") + "`.",
        ("**Quick form: a smoke run of the pipeline on a subset, not a converged result.**" if args.quick else
         "VGG-11-BN is " + ("included." if args.with_vgg else "not included (about 65 training images/s on this "
                            "CPU: run `--with-vgg` on a GPU or with the hours).")),
        markdown_table(["model", "params", "MACs", "epochs", "train images", "test top-1 %", "binomial 2σ",
                        "seed sd", "train img/s", "Fashion-MNIST table"], rows),
        "Binomial 2σ: 2·sqrt(p(1-p)/n) on the n test images; seed sd: sample standard deviation over the seeds "
        "(— with one seed). The Fashion-MNIST table's entries train at 28x28 with their own recipes: they anchor "
        "the scale. The CPU was shared with other jobs while this ran: throughput is noisy.",
        "## Machine\n\n" + machine_info_markdown(),
    ])  # fmt: skip
    path = write_markdown("converged_quick" if args.quick else "converged", text)
    print(f"wrote {path}", file=sys.stderr)
    if not args.quick:
        record = recorded_from_rows(result.rows, command=command, epochs=cfg["epochs"] or RECIPE_EPOCHS,
                                    image_size=32, data="fashion-mnist")
        print(f"wrote {write_recorded(record)}", file=sys.stderr)


if __name__ == "__main__":
    main()
