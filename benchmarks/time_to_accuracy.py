"""Time to accuracy: cnnlab's ``--recipe fast`` against a plain PyTorch loop, same network, same machine, same run.

    python benchmarks/time_to_accuracy.py [--quick] [--models resnet18 found] [--seeds 3] [--lanes 2]
                                          [--max-plain-epochs 30] [--threads N] [--ablate] [--no-compile]

Full run: a network with 1 input channel and 10 classes on Fashion-MNIST padded to 32x32 (the input size
``cnnlab compare`` uses), trained on all 60,000 training images and evaluated on the full 10,000-image test
set after every epoch; the target is 93.0 % test accuracy, for 3 seeds. The networks (``--models``):
``resnet18`` (cnnlab's) and ``found``, the NB201 cell ``benchmarks/fashion_search.py`` found (C=16, N=1,
``benchmarks/results/fashion_found.json``). Each arm stops at the first epoch whose test accuracy reaches the
target; its time is the wall time of its epochs (training, BatchNorm recomputation and the per-epoch test
evaluation, the same work for both arms apart from the recipe's own).

- fast: ``cnnlab.train.fit`` with ``recipe_config("fast")`` (cnnlab.train.recipes: batch 512 at lr 0.2,
  Nesterov, one-cycle, label smoothing 0.1, EMA of the weights, progressive resizing 16 -> 24 -> 32 px, flip
  test-time augmentation, uint8 crop+flip augmentation, channels_last by the trainer's rule).
- plain: a textbook loop: ``torch.utils.data.DataLoader`` over a ``TensorDataset`` of the normalised images
  (built once, before the clock starts), batch 128, SGD lr 0.05, momentum 0.9, weight decay 5e-4, constant
  learning rate, cross-entropy, NCHW, no augmentation; stopped after ``--max-plain-epochs`` if it never
  reaches the target (the speed-up is then a lower bound).

``--lanes L`` runs the arms as L child processes at a time, each with ``--threads`` torch threads (default:
the cores divided by L), so that both arms of a seed run side by side under the same conditions. Every arm's
epochs are kept in ``reports/time_to_accuracy[_quick]/<model>-<arm>-seed<k>.json`` (written atomically when
the arm ends): a rerun with the same settings reuses them, so an interrupted run loses at most the arms in
flight. The table is rewritten after every arm, with every network that has kept arms under these
settings (a run of ``--models resnet18`` keeps the found network's rows).

Also measured, to decide the recipe's layout and compilation: median step time of the recipe's batch in NCHW,
channels_last and under ``torch.compile`` (with the compile warm-up time). ``--ablate`` reruns the fast arm
(first model, first seed) with one trick removed at a time. The target (≥ 3x faster) is marked met or missed
for each network. Writes benchmarks/results/time_to_accuracy.md (``--quick``: a 1,000-image subset, 300 test
images, a 60 % target, one seed, the fast recipe at batch 128 for 2 epochs: time_to_accuracy_quick.md, a smoke
run of the pipeline whose numbers say nothing about the full run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import cnnlab
from cnnlab.atomic import atomic_write_text
from cnnlab.data import make_loaders
from cnnlab.train import fit
from cnnlab.train.recipes import recipe_config
from common import (
    add_common_args,
    interleaved_medians,
    machine_info_markdown,
    markdown_table,
    pin_threads,
    write_markdown,
)

REPO = Path(__file__).resolve().parent.parent
FULL = {"limit_train": None, "limit_test": None, "target": 93.0, "seeds": 3, "fast_epochs": 8, "fast_batch": 512,
        "max_plain_epochs": 30, "timing_batches": 5, "compile_timeout_s": 900}
QUICK = {"limit_train": 1000, "limit_test": 300, "target": 60.0, "seeds": 1, "fast_epochs": 2, "fast_batch": 128,
         "max_plain_epochs": 3, "timing_batches": 2, "compile_timeout_s": 240}
PLAIN = {"batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
# label -> model spec (cnnlab.create_model_from_spec); "found" is benchmarks/fashion_search.py's result
MODELS = {"resnet18": "resnet18", "found": "nb201:genotype=benchmarks/results/fashion_found.json,C=16,N=1"}
IMAGE_SIZE, TARGET_SPEEDUP, ARMS = 32, 3.0, ("plain", "fast")
ABLATIONS = {  # name -> TrainConfig fields changed from the recipe
    "no EMA": {"ema_decay": 0.0},
    "no flip TTA": {"tta_flip": False},
    "no progressive resizing": {"resize_schedule": ()},
    "no label smoothing": {"label_smoothing": 0.0},
    "no crop/flip augmentation": {"crop_padding": 0, "hflip": False},
    "NCHW instead of channels_last": {"channels_last": False},
    "batch 128 at lr 0.05": {"batch_size": 128, "lr": 0.05},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bundle(cfg: dict, batch_size: int):
    # the test split serves as the per-epoch evaluation: every training image trains
    data = make_loaders("fashion-mnist", batch_size, val_fraction=0.0, image_size=IMAGE_SIZE,
                        limit_train=cfg["limit_train"], limit_test=cfg["limit_test"])  # fmt: skip
    return dataclasses.replace(data, val=data.test)


def build(model: str, seed: int) -> nn.Module:
    """The network ``model`` (a key of MODELS) with 1 input channel and 10 classes, initialised from ``seed``."""
    torch.manual_seed(seed)
    cwd = Path.cwd()
    os.chdir(REPO)  # the found network's spec names its genotype file relative to the repository
    try:
        return cnnlab.create_model_from_spec(MODELS[model], num_classes=10, in_chans=1)
    finally:
        os.chdir(cwd)


def run_fast(cfg: dict, model: str, seed: int, config=None) -> list[dict]:  # noqa: ANN001
    """The fast recipe's per-epoch history (epoch, val_acc = test accuracy, epoch_seconds) up to the target."""
    config = config or recipe_config("fast", epochs=cfg["fast_epochs"], batch_size=cfg["fast_batch"], seed=seed,
                                     device="cpu")  # fmt: skip
    data = bundle(cfg, config.batch_size)
    target = cfg["target"] / 100

    def stop(_epoch: int, record: dict) -> bool:
        log(f"    {model} fast seed {seed} epoch {record['epoch']}: test {100 * record['val_acc']:.2f} %  "
            f"{record['epoch_seconds']:.1f} s")
        return record["val_acc"] >= target

    result = fit(build(model, seed), data, config, progress=False, on_epoch_end=stop)
    return [{k: r[k] for k in ("epoch", "val_acc", "epoch_seconds")} for r in result.history]


@torch.no_grad()
def _accuracy(model: nn.Module, loader) -> float:  # noqa: ANN001
    model.eval()
    correct = count = 0
    for images, labels in loader:
        correct += int((model(images).argmax(1) == labels).sum())
        count += labels.numel()
    model.train()
    return correct / count


def run_plain(cfg: dict, model_name: str, seed: int) -> list[dict]:
    """The textbook loop: DataLoader, SGD, cross-entropy; test accuracy after every epoch."""
    data = bundle(cfg, PLAIN["batch_size"])
    images = data.train.transform(data.train.dataset.images)  # normalised float32, built before the clock
    dataset = torch.utils.data.TensorDataset(images, data.train.dataset.labels)
    loader = torch.utils.data.DataLoader(dataset, batch_size=PLAIN["batch_size"], shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))  # fmt: skip
    model = build(model_name, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=PLAIN["lr"], momentum=PLAIN["momentum"],
                                weight_decay=PLAIN["weight_decay"])  # fmt: skip
    criterion = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, cfg["max_plain_epochs"] + 1):
        start = time.perf_counter()
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        accuracy = _accuracy(model, data.test)
        history.append({"epoch": epoch, "val_acc": accuracy, "epoch_seconds": time.perf_counter() - start})
        log(f"    {model_name} plain seed {seed} epoch {epoch}: test {100 * accuracy:.2f} %  "
            f"{history[-1]['epoch_seconds']:.1f} s")
        if accuracy >= cfg["target"] / 100:
            break
    return history


def _stepper(model: nn.Module, images: torch.Tensor, labels: torch.Tensor):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return step


def _batch(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 1, IMAGE_SIZE, IMAGE_SIZE, generator=gen), torch.randint(0, 10, (batch,), generator=gen)


def compile_probe(model: str, batch: int, repeats: int) -> None:
    """Run in a child process (so that a warm-up beyond the timeout can be killed): prints the compiled
    channels_last step's warm-up seconds and median step seconds as JSON."""
    x, y = _batch(batch)
    step = _stepper(torch.compile(build(model, 0).to(memory_format=torch.channels_last)),
                    x.contiguous(memory_format=torch.channels_last), y)  # fmt: skip
    start = time.perf_counter()
    step()
    warm = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"warm_s": warm, "step_s": statistics.median(times)}))


def measure_step_times(cfg: dict, model: str, compile_too: bool, threads: int) -> list[list[str]]:
    """Median forward+backward+step time of the recipe's batch at 32x32 in NCHW and channels_last (timed in
    turn), and under torch.compile in a child process killed after ``compile_timeout_s``."""
    x, y = _batch(cfg["fast_batch"])
    variants = {"NCHW": _stepper(build(model, 0), x, y),
                "channels_last": _stepper(build(model, 0).to(memory_format=torch.channels_last),
                                          x.contiguous(memory_format=torch.channels_last), y)}  # fmt: skip
    medians = interleaved_medians(variants, repeats=cfg["timing_batches"], warmup=1)
    base = medians["NCHW"]
    rows = [[model, name, f"{1000 * t:.0f}", f"{base / t:.2f}x", "—"] for name, t in medians.items()]
    if compile_too:
        name = "torch.compile + channels_last (separate process)"
        command = [sys.executable, __file__, "--compile-probe", model, str(cfg["fast_batch"]), "--threads", str(threads)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=cfg["compile_timeout_s"], check=False)
            probe = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
            if probe is None:
                why = done.stderr.strip().splitlines()[-1][:120] if done.stderr.strip() else "—"
                rows.append([model, name, "failed", "—", why])
            else:
                rows.append([model, name, f"{1000 * probe['step_s']:.0f}", f"{base / probe['step_s']:.2f}x",
                             f"{probe['warm_s']:.0f} s"])  # fmt: skip
        except subprocess.TimeoutExpired:
            rows.append([model, name, "—", "—", f"> {cfg['compile_timeout_s']} s (killed)"])
    return rows


# ---- arms as jobs: one child process per (model, arm, seed), its epochs kept as JSON -------------------------

@dataclasses.dataclass(frozen=True)
class Job:
    model: str
    arm: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.model}-{self.arm}-seed{self.seed}"


def arm_settings(cfg: dict, job: Job, threads: int) -> dict:
    """What an arm's result depends on: a kept result is reused only when all of it is equal."""
    keys = ["limit_train", "limit_test", "target"] + (["fast_epochs", "fast_batch"] if job.arm == "fast"
                                                      else ["max_plain_epochs"])  # fmt: skip
    return {"spec": MODELS[job.model], "threads": threads, **{k: cfg[k] for k in keys}}


def kept(folder: Path, job: Job, settings: dict) -> list[dict] | None:
    """The history a finished arm with these settings left, or None."""
    path = folder / f"{job.name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record["history"] if record.get("settings") == settings else None


def run_arm(cfg: dict, job: Job, folder: Path, threads: int) -> None:
    """The child: train one arm, then write its epochs (atomically) for the parent to read."""
    history = (run_fast if job.arm == "fast" else run_plain)(cfg, job.model, job.seed)
    record = {"settings": arm_settings(cfg, job, threads), "history": history}
    atomic_write_text(folder / f"{job.name}.json", json.dumps(record, indent=1) + "\n")


def run_jobs(jobs: list[Job], child_flags: list[str], threads: int, lanes: int, written: Callable[[], None]) -> None:
    """Run the jobs ``lanes`` at a time as child processes (``--arm-job`` plus ``child_flags``); ``written()``
    after each ends."""
    waiting, running = list(jobs), {}
    while waiting or running:
        while waiting and len(running) < lanes:
            job = waiting.pop(0)
            command = [sys.executable, __file__, "--arm-job", job.model, job.arm, str(job.seed),
                       "--threads", str(threads), *child_flags]
            log(f"  start {job.name} ({threads} thread(s))")
            running[job] = subprocess.Popen(command, cwd=REPO)
        time.sleep(1.0)
        for job, process in list(running.items()):
            if process.poll() is not None:
                del running[job]
                log(f"  {job.name} ended (exit {process.returncode})")
                if process.returncode != 0:
                    for other in running.values():
                        other.terminate()
                    raise SystemExit(f"arm {job.name} failed (exit {process.returncode}); kept arms are reused "
                                     "by the next run")
                written()


def _outcome(history: list[dict], target: float) -> dict:
    seconds, reached = 0.0, None
    for record in history:
        seconds += record["epoch_seconds"]
        if reached is None and record["val_acc"] >= target:
            reached = (record["epoch"], seconds)
    return {"reached": reached, "seconds": seconds, "epochs": len(history), "final_pct": 100 * history[-1]["val_acc"]}


def _common_row(seed: int, fast: list[dict], plain: list[dict]) -> list[object]:
    """Seed, the best accuracy both arms reached, each arm's time to it (the first epoch at or above it)."""
    common = min(max(r["val_acc"] for r in fast), max(r["val_acc"] for r in plain))
    fast_at, plain_at = _outcome(fast, common)["reached"], _outcome(plain, common)["reached"]
    return [seed, f"{100 * common:.2f}", f"{fast_at[1]:.0f} s ({fast_at[0]})", f"{plain_at[1]:.0f} s ({plain_at[0]})",
            f"{plain_at[1] / fast_at[1]:.2f}x"]


def _time_cell(outcome: dict | None) -> str:
    if outcome is None:
        return "not run yet"
    if outcome["reached"] is None:
        return f"not reached in {outcome['epochs']} epochs (≥ {outcome['seconds']:.0f} s)"
    epoch, seconds = outcome["reached"]
    return f"{seconds:.0f} s (epoch {epoch})"


def _summary(cfg: dict, seeds: int, fast: list[dict], plain: list[dict]) -> tuple[str, str]:
    """The median time to target of each arm over the seeds run, and the verdict against TARGET_SPEEDUP."""
    target = cfg["target"] / 100
    fast_times = [o["reached"][1] for o in fast if o["reached"]]
    plain_times = [o["reached"][1] if o["reached"] else o["seconds"] for o in plain]
    plain_reached = sum(1 for o in plain if o["reached"])
    if len(fast) < seeds or len(plain) < seeds:
        return (f"{len(fast)} fast and {len(plain)} plain arm(s) of {seeds} seed(s) finished so far.",
                "**Target: not measured yet.**")
    if not fast_times:
        return (f"fast recipe: did not reach {100 * target:.1f} % in {cfg['fast_epochs']} epochs (any seed)",
                f"**Target ≥ {TARGET_SPEEDUP:.0f}x: missed** (the fast recipe did not reach the target).")
    ratio = statistics.median(plain_times) / statistics.median(fast_times)
    bound = "" if plain_reached == seeds else "≥ "
    summary = (f"Median time to {100 * target:.1f} % over {seeds} seed(s): fast {statistics.median(fast_times):.0f} s "
               f"({len(fast_times)}/{seeds} seeds reached it), plain {bound}{statistics.median(plain_times):.0f} s "
               f"({plain_reached}/{seeds}): {'at least ' if bound else ''}{ratio:.2f}x faster.")  # fmt: skip
    met = ratio >= TARGET_SPEEDUP and len(fast_times) == seeds
    return summary, f"**Target ≥ {TARGET_SPEEDUP:.0f}x faster to the same accuracy: {'met' if met else 'missed'}.**"


def _command(args: argparse.Namespace) -> str:
    parts = ["python benchmarks/time_to_accuracy.py"] + (["--quick"] if args.quick else [])
    parts += ["--models", *args.models] if args.models != list(MODELS) else []
    parts += [f"--seeds {args.seeds}"] if args.seeds is not None else []
    parts += [f"--lanes {args.lanes}"] if args.lanes != 1 else []
    parts += [f"--max-plain-epochs {args.max_plain_epochs}"] if args.max_plain_epochs is not None else []
    parts += [f"--threads {args.threads}"] if args.threads else []
    parts += ["--ablate"] if args.ablate else []
    parts += ["--no-compile"] if args.no_compile else []
    return " ".join(parts)


def report(cfg: dict, args: argparse.Namespace, seeds: int, folder: Path, threads: int, started: float,
           step_rows: list[list[str]], ablation_rows: list[list[str]], step_threads: int) -> Path:
    """Write the results table from the kept arms (those not run yet are marked so)."""
    target = cfg["target"] / 100
    kept_arms = {job: kept(folder, job, arm_settings(cfg, job, threads))
                 for job in (Job(m, arm, seed) for m in MODELS for arm in ARMS for seed in range(seeds))}
    # the models asked for, then every other one with kept arms: a run of one network keeps another's rows
    models = list(args.models) + [m for m in MODELS if m not in args.models
                                  and any(h is not None for job, h in kept_arms.items() if job.model == m)]
    sections = []
    for model in models:
        outcomes = {arm: [] for arm in ARMS}
        rows, common_rows = [], []
        for seed in range(seeds):
            cells, histories = [seed], {}
            for arm in ("fast", "plain"):
                histories[arm] = kept_arms[Job(model, arm, seed)]
                outcome = None if histories[arm] is None else _outcome(histories[arm], target)
                if outcome is not None:
                    outcomes[arm].append(outcome)
                cells += [_time_cell(outcome), "—" if outcome is None else f"{outcome['final_pct']:.2f}"]
            rows.append(cells)
            if all(histories.values()):
                common_rows.append(_common_row(seed, histories["fast"], histories["plain"]))
        summary, verdict = _summary(cfg, seeds, outcomes["fast"], outcomes["plain"])
        sections.append(f"## {model} (`{MODELS[model]}`)\n\n{summary}\n\n{verdict}\n\n" + markdown_table(
            ["seed", "fast: time to target", "fast: last test %", "plain: time to target", "plain: last test %"], rows))
        if common_rows:
            sections.append(
                "Beside the target: the time each arm took to the best test accuracy both arms reached in that seed "
                "(the lower of the two arms' best epochs), the same accuracy for both by construction.\n\n"
                + markdown_table(["seed", "accuracy both reached %", "fast: time (epoch)", "plain: time (epoch)",
                                  "fast is faster by"], common_rows))  # fmt: skip
    lanes = (f"The arms ran {args.lanes} at a time, each in its own process with {threads} torch thread(s)."
             if args.lanes > 1 else f"The arms ran one after another with {threads} torch thread(s).")
    text = "\n\n".join(filter(None, [
        "# Time to accuracy: `--recipe fast` vs a plain PyTorch loop" + (" (quick)" if args.quick else ""),
        f"Command: `{_command(args)}` ({time.perf_counter() - started:.0f} s for this invocation; arms finished by "
        f"an earlier one are reused from `{folder.relative_to(REPO)}`).",
        f"Fashion-MNIST at {IMAGE_SIZE}x{IMAGE_SIZE}, 1 input channel, 10 classes; training on "
        f"{cfg['limit_train'] or 'all 60,000'} images, test accuracy after every epoch on "
        f"{cfg['limit_test'] or 'all 10,000'} test images; target {cfg['target']} %. The fast arm runs at most "
        f"{cfg['fast_epochs']} epochs, the plain one at most {cfg['max_plain_epochs']}. Times are the wall time of "
        "the epochs up to the first that reaches the target (training, BatchNorm recomputation, the per-epoch test "
        f"pass). {lanes}",
        *sections,
        f"## Step time of the recipe's batch (decides layout and compilation; {step_threads} thread(s), before the "
        "arms)\n\n"
        + markdown_table(["model", "variant", "ms per step (median)", "speed-up vs NCHW", "compile warm-up"],
                         step_rows),
        ("## Ablation: the fast recipe with one trick removed (first model, seed 0)\n\n"
         + markdown_table(["removed", "time to target", "last test %"], ablation_rows)) if ablation_rows else "",
        "## Machine\n\n" + machine_info_markdown(),
    ]))  # fmt: skip
    return write_markdown("time_to_accuracy_quick" if args.quick else "time_to_accuracy", text)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), help="networks to time")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per arm (default 3; --quick: 1)")
    parser.add_argument("--lanes", type=int, default=1, help="arms run side by side, each in its own process")
    parser.add_argument("--max-plain-epochs", type=int, default=None,
                        help="the plain arm stops here if it has not reached the target (default 30; --quick 3)")
    parser.add_argument("--ablate", action="store_true", help="rerun the fast arm with each trick removed")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile timing")
    parser.add_argument("--compile-probe", nargs=2, default=None, help=argparse.SUPPRESS)  # child: MODEL BATCH
    parser.add_argument("--arm-job", nargs=3, default=None, help=argparse.SUPPRESS)  # child: MODEL ARM SEED
    args = parser.parse_args(argv)
    for name in ("seeds", "lanes", "max_plain_epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.max_plain_epochs is not None:
        cfg["max_plain_epochs"] = args.max_plain_epochs
    folder = REPO / "reports" / ("time_to_accuracy_quick" if args.quick else "time_to_accuracy")
    if args.compile_probe is not None:
        pin_threads(args.threads)
        compile_probe(args.compile_probe[0], int(args.compile_probe[1]), 3)
        return 0
    if args.arm_job is not None:
        model, arm, seed = args.arm_job
        run_arm(cfg, Job(model, arm, int(seed)), folder, pin_threads(args.threads))
        return 0
    seeds = cfg["seeds"] if args.seeds is None else args.seeds
    cores = os.cpu_count() or 1
    threads = args.threads or max(1, (torch.get_num_threads() if args.lanes == 1 else cores // args.lanes))
    started = time.perf_counter()
    log(f"time to accuracy ({'quick' if args.quick else 'full'}): target {cfg['target']} %, {args.lanes} lane(s) "
        f"of {threads} thread(s)")
    folder.mkdir(parents=True, exist_ok=True)
    step_threads = pin_threads(args.threads or (torch.get_num_threads() if args.lanes == 1 else cores))
    step_rows: list[list[str]] = []
    for model in args.models:
        log(f"  step times: {model}")
        step_rows += measure_step_times(cfg, model, not args.no_compile, threads)
    ablation_rows: list[list[str]] = []

    def written() -> None:
        log(f"wrote {report(cfg, args, seeds, folder, threads, started, step_rows, ablation_rows, step_threads)}")

    # the longer plain arms first, so that the lanes end together
    jobs = [Job(model, arm, seed) for arm in ARMS for model in args.models for seed in range(seeds)]
    todo = [job for job in jobs if kept(folder, job, arm_settings(cfg, job, threads)) is None]
    log(f"  {len(jobs) - len(todo)} arm(s) kept from an earlier run, {len(todo)} to run")
    written()
    child_flags = ["--max-plain-epochs", str(cfg["max_plain_epochs"])] + (["--quick"] if args.quick else [])
    run_jobs(todo, child_flags, threads, args.lanes, written)
    if args.ablate:
        pin_threads(threads)
        model = args.models[0]
        base = recipe_config("fast", epochs=cfg["fast_epochs"], batch_size=cfg["fast_batch"], seed=0, device="cpu")
        for name, change in ABLATIONS.items():
            log(f"  ablation: {name}")
            outcome = _outcome(run_fast(cfg, model, 0, dataclasses.replace(base, **change)), cfg["target"] / 100)
            ablation_rows.append([name, _time_cell(outcome), f"{outcome['final_pct']:.2f}"])
            written()  # the table so far: a long run leaves its results as it goes
    written()
    return 0


if __name__ == "__main__":
    sys.exit(main())
