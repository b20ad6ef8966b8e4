"""Time to accuracy: cnnlab's ``--recipe fast`` against a plain PyTorch loop, same network, same machine, same run.

    python benchmarks/time_to_accuracy.py [--quick] [--threads N] [--seeds 3] [--ablate] [--no-compile]

Full run: cnnlab's resnet18 (10 classes, 1 input channel) on Fashion-MNIST padded to 32x32 (the input size
``cnnlab compare`` uses), trained on all 60,000 training images and evaluated on the full 10,000-image test
set after every epoch; the target is 93.0 % test accuracy, for 3 seeds. Each arm stops at the first epoch
whose test accuracy reaches the target; its time is the wall time of its epochs (training, BatchNorm
recomputation and the per-epoch test evaluation, the same work for both arms apart from the recipe's own).

- fast: ``cnnlab.train.fit`` with ``recipe_config("fast")`` (cnnlab.train.recipes: batch 512 at lr 0.2,
  Nesterov, one-cycle, label smoothing 0.1, EMA of the weights, progressive resizing 16 -> 24 -> 32 px, flip
  test-time augmentation, uint8 crop+flip augmentation, channels_last by the trainer's rule).
- plain: a textbook loop: ``torch.utils.data.DataLoader`` over a ``TensorDataset`` of the normalised images
  (built once, before the clock starts), batch 128, SGD lr 0.05, momentum 0.9, weight decay 5e-4, constant
  learning rate, cross-entropy, NCHW, no augmentation; stopped after ``max_plain_epochs`` if it never
  reaches the target (the speed-up is then a lower bound).

Also measured, to decide the recipe's layout and compilation: median step time of the recipe's batch in NCHW,
channels_last and under ``torch.compile`` (with the compile warm-up time). ``--ablate`` reruns the fast arm
(first seed) with one trick removed at a time. The target (≥ 3x faster) is marked met or missed.
Writes benchmarks/results/time_to_accuracy.md (``--quick``: a 1,000-image subset, 300 test images, a 60 %
target, one seed, the fast recipe at batch 128 for 2 epochs: time_to_accuracy_quick.md, a smoke run of the
pipeline whose numbers say nothing about the full run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

import cnnlab
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

FULL = {"limit_train": None, "limit_test": None, "target": 93.0, "seeds": 3, "fast_epochs": 8, "fast_batch": 512,
        "max_plain_epochs": 30, "timing_batches": 5, "compile_timeout_s": 900}
QUICK = {"limit_train": 1000, "limit_test": 300, "target": 60.0, "seeds": 1, "fast_epochs": 2, "fast_batch": 128,
         "max_plain_epochs": 3, "timing_batches": 2, "compile_timeout_s": 240}
PLAIN = {"batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
MODEL, IMAGE_SIZE, TARGET_SPEEDUP = "resnet18", 32, 3.0
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


def build(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return cnnlab.create_model(MODEL, num_classes=10, in_chans=1)


def run_fast(cfg: dict, seed: int, config=None) -> dict:  # noqa: ANN001
    config = config or recipe_config("fast", epochs=cfg["fast_epochs"], batch_size=cfg["fast_batch"], seed=seed,
                                     device="cpu")  # fmt: skip
    data = bundle(cfg, config.batch_size)
    target = cfg["target"] / 100

    def stop(_epoch: int, record: dict) -> bool:
        log(f"    fast epoch {record['epoch']}: test {100 * record['val_acc']:.2f} %  {record['epoch_seconds']:.1f} s")
        return record["val_acc"] >= target

    result = fit(build(seed), data, config, progress=False, on_epoch_end=stop)
    return _outcome(result.history, target)


def _outcome(history: list[dict], target: float) -> dict:
    seconds, reached = 0.0, None
    for record in history:
        seconds += record["epoch_seconds"]
        if reached is None and record["val_acc"] >= target:
            reached = (record["epoch"], seconds)
    return {"reached": reached, "seconds": seconds, "epochs": len(history), "final_pct": 100 * history[-1]["val_acc"]}


@torch.no_grad()
def _accuracy(model: nn.Module, loader) -> float:  # noqa: ANN001
    model.eval()
    correct = count = 0
    for images, labels in loader:
        correct += int((model(images).argmax(1) == labels).sum())
        count += labels.numel()
    model.train()
    return correct / count


def run_plain(cfg: dict, seed: int) -> dict:
    """The textbook loop: DataLoader, SGD, cross-entropy; test accuracy after every epoch."""
    data = bundle(cfg, PLAIN["batch_size"])
    images = data.train.transform(data.train.dataset.images)  # normalised float32, built before the clock
    dataset = torch.utils.data.TensorDataset(images, data.train.dataset.labels)
    loader = torch.utils.data.DataLoader(dataset, batch_size=PLAIN["batch_size"], shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))  # fmt: skip
    model = build(seed)
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
        log(f"    plain epoch {epoch}: test {100 * accuracy:.2f} %  {history[-1]['epoch_seconds']:.1f} s")
        if accuracy >= cfg["target"] / 100:
            break
    return _outcome(history, cfg["target"] / 100)


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


def compile_probe(batch: int, repeats: int) -> None:
    """Run in a child process (so that a warm-up beyond the timeout can be killed): prints the compiled
    channels_last step's warm-up seconds and median step seconds as JSON."""
    x, y = _batch(batch)
    step = _stepper(torch.compile(build(0).to(memory_format=torch.channels_last)),
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


def measure_step_times(cfg: dict, compile_too: bool, threads: int) -> list[list[str]]:
    """Median forward+backward+step time of the recipe's batch at 32x32 in NCHW and channels_last (timed in
    turn), and under torch.compile in a child process killed after ``compile_timeout_s``."""
    x, y = _batch(cfg["fast_batch"])
    variants = {"NCHW": _stepper(build(0), x, y),
                "channels_last": _stepper(build(0).to(memory_format=torch.channels_last),
                                          x.contiguous(memory_format=torch.channels_last), y)}  # fmt: skip
    medians = interleaved_medians(variants, repeats=cfg["timing_batches"], warmup=1)
    base = medians["NCHW"]
    rows = [[name, f"{1000 * t:.0f}", f"{base / t:.2f}x", "—"] for name, t in medians.items()]
    if compile_too:
        name = "torch.compile + channels_last (separate process)"
        command = [sys.executable, __file__, "--compile-probe", str(cfg["fast_batch"]), "--threads", str(threads)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=cfg["compile_timeout_s"], check=False)
            probe = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
            if probe is None:
                rows.append([name, "failed", "—", done.stderr.strip().splitlines()[-1][:120] if done.stderr else "—"])
            else:
                rows.append([name, f"{1000 * probe['step_s']:.0f}", f"{base / probe['step_s']:.2f}x",
                             f"{probe['warm_s']:.0f} s"])  # fmt: skip
        except subprocess.TimeoutExpired:
            rows.append([name, "—", "—", f"> {cfg['compile_timeout_s']} s (killed)"])
    return rows


def _time_cell(outcome: dict) -> str:
    if outcome["reached"] is None:
        return f"not reached in {outcome['epochs']} epochs (≥ {outcome['seconds']:.0f} s)"
    epoch, seconds = outcome["reached"]
    return f"{seconds:.0f} s (epoch {epoch})"


def main() -> None:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--seeds", type=int, default=None, help="seeds per arm (default 3; --quick: 1)")
    parser.add_argument("--ablate", action="store_true", help="rerun the fast arm with each trick removed")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile timing")
    parser.add_argument("--compile-probe", type=int, default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.compile_probe is not None:
        pin_threads(args.threads)
        compile_probe(args.compile_probe, 3)
        return
    cfg = dict(QUICK if args.quick else FULL)
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    threads = pin_threads(args.threads)
    started = time.perf_counter()
    log(f"time to accuracy ({'quick' if args.quick else 'full'}): target {cfg['target']} %, {threads} thread(s)")

    log("  step times")
    step_rows = measure_step_times(cfg, not args.no_compile, threads)
    rows, fast_times, plain_times, plain_bounds = [], [], [], []
    for seed in range(cfg["seeds"]):
        log(f"  seed {seed}: fast")
        fast = run_fast(cfg, seed)
        log(f"  seed {seed}: plain")
        plain = run_plain(cfg, seed)
        rows.append([seed, _time_cell(fast), f"{fast['final_pct']:.2f}", _time_cell(plain), f"{plain['final_pct']:.2f}"])
        if fast["reached"]:
            fast_times.append(fast["reached"][1])
        if plain["reached"]:
            plain_times.append(plain["reached"][1])
        else:
            plain_bounds.append(plain["seconds"])
    ablation_rows: list[list[str]] = []
    report = (cfg, args, threads, started, rows, step_rows, ablation_rows, (fast_times, plain_times, plain_bounds))
    _write(*report)
    if args.ablate:
        base = recipe_config("fast", epochs=cfg["fast_epochs"], batch_size=cfg["fast_batch"], seed=0, device="cpu")
        for name, change in ABLATIONS.items():
            log(f"  ablation: {name}")
            outcome = run_fast(cfg, 0, dataclasses.replace(base, **change))
            ablation_rows.append([name, _time_cell(outcome), f"{outcome['final_pct']:.2f}"])
            _write(*report)  # the table so far: a long run leaves its results as it goes


def _write(cfg, args, threads, started, rows, step_rows, ablation_rows, times) -> None:  # noqa: ANN001
    fast_times, plain_times, plain_bounds = times
    summary, verdict = _summary(cfg, fast_times, plain_times, plain_bounds)
    command = "python benchmarks/time_to_accuracy.py" + (" --quick" if args.quick else "") + \
        (" --ablate" if args.ablate else "") + (" --no-compile" if args.no_compile else "") + \
        (f" --threads {args.threads}" if args.threads else "") + \
        (f" --seeds {args.seeds}" if args.seeds is not None else "")  # fmt: skip
    text = "\n\n".join(filter(None, [
        "# Time to accuracy: `--recipe fast` vs a plain PyTorch loop" + (" (quick)" if args.quick else ""),
        f"Command: `{command}` ({time.perf_counter() - started:.0f} s in all).",
        f"cnnlab {MODEL} (1 input channel, 10 classes) on Fashion-MNIST at {IMAGE_SIZE}x{IMAGE_SIZE}; training on "
        f"{cfg['limit_train'] or 'all 60,000'} images, test accuracy after every epoch on "
        f"{cfg['limit_test'] or 'all 10,000'} test images; target {cfg['target']} %. Times are the wall time of "
        "the epochs up to the first that reaches the target (training, BatchNorm recomputation, the per-epoch "
        "test pass). The CPU was shared with other jobs while this ran: the timings are noisy.",
        "## Result\n\n" + summary + "\n\n" + verdict,
        "## Per seed\n\n" + markdown_table(["seed", "fast: time to target", "fast: last test %",
                                            "plain: time to target", "plain: last test %"], rows),
        "## Step time of the recipe's batch (decides layout and compilation)\n\n"
        + markdown_table(["variant", "ms per step (median)", "speed-up vs NCHW", "compile warm-up"], step_rows),
        ("## Ablation: the fast recipe with one trick removed (seed 0)\n\n"
         + markdown_table(["removed", "time to target", "last test %"], ablation_rows)) if ablation_rows else "",
        "## Machine\n\n" + machine_info_markdown(),
    ]))  # fmt: skip
    path = write_markdown("time_to_accuracy_quick" if args.quick else "time_to_accuracy", text)
    log(f"wrote {path}")


def _summary(cfg: dict, fast: list[float], plain: list[float], plain_bounds: list[float]) -> tuple[str, str]:
    seeds = cfg["seeds"]
    fast_text = f"{statistics.median(fast):.0f} s" if fast else "never"
    if not fast:
        return (f"fast recipe: did not reach {cfg['target']} % in {cfg['fast_epochs']} epochs (any seed)",
                f"**Target ≥ {TARGET_SPEEDUP:.0f}x: missed** (the fast recipe did not reach the target).")
    if len(plain) == seeds:
        ratio = statistics.median(plain) / statistics.median(fast)
        plain_text, bound = f"{statistics.median(plain):.0f} s", ""
    else:
        ratio = statistics.median(plain + plain_bounds) / statistics.median(fast)
        plain_text, bound = f"≥ {statistics.median(plain + plain_bounds):.0f} s", "at least "
    summary = (f"Median time to {cfg['target']} % over {seeds} seed(s): fast {fast_text} "
               f"({len(fast)}/{seeds} seeds reached it), plain {plain_text} ({len(plain)}/{seeds}): "
               f"{bound}{ratio:.2f}x faster.")  # fmt: skip
    met = ratio >= TARGET_SPEEDUP and len(fast) == seeds
    return summary, f"**Target ≥ {TARGET_SPEEDUP:.0f}x faster to the same accuracy: {'met' if met else 'missed'}.**"


if __name__ == "__main__":
    main()
