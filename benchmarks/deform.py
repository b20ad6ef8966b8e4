"""Deformable convolution on CPU: cnnlab.units.deform_conv2d vs torchvision.ops.deform_conv2d.

    python benchmarks/deform.py [--quick] [--threads N] [--repeats R]

Shapes timed: (8, 64, 56, 56) and (32, 128, 28, 28), 3x3
kernel, padding 1, as many output as input channels, offset groups 1 and 4, no mask (v1); offsets
~ N(0, 2^2) so that some samples fall outside the image. For each case the forward (no grad) and the
forward + backward (gradients w.r.t. input, offset, weight and bias) are timed, the two implementations
interleaved round by round after a warm-up, median of the rounds. Threads are pinned; by default every
case runs at 1 thread (torchvision's CPU sampling loops are single-threaded, so one thread compares the
algorithms rather than the thread counts) and again at torch's default count (what a user gets), unless
``--threads N`` picks one count. The two results are also compared: "max rel err" is the largest
``max|cnnlab - torchvision| / max|torchvision|`` over the output and the four gradients.
Writes benchmarks/results/deform.md (deform_quick.md with --quick).
"""

from __future__ import annotations

import argparse
import sys

import torch
import torchvision
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from cnnlab.units.deform import deform_conv2d
from common import (
    add_common_args,
    interleaved_medians,
    machine_info_markdown,
    markdown_table,
    pin_threads,
    write_markdown,
)

FULL = {"shapes": [(8, 64, 56, 56), (32, 128, 28, 28)], "repeats": 5}
QUICK = {"shapes": [(2, 16, 14, 14)], "repeats": 2}
OFFSET_GROUPS = (1, 4)
KERNEL, PADDING, OFFSET_STD = 3, 1, 2.0
TARGET_SPEEDUP = 8.0  # forward+backward vs torchvision on CPU


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_case(shape: tuple[int, int, int, int], offset_groups: int, seed: int = 0) -> list[torch.Tensor]:
    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g)
    offset = torch.randn(n, 2 * offset_groups * KERNEL * KERNEL, h, w, generator=g) * OFFSET_STD
    weight = torch.randn(c, c, KERNEL, KERNEL, generator=g) / (c * KERNEL * KERNEL) ** 0.5
    bias = torch.randn(c, generator=g)
    return [t.requires_grad_() for t in (x, offset, weight, bias)]


def forward_backward(fn, tensors: list[torch.Tensor], upstream: torch.Tensor) -> list[torch.Tensor]:
    x, offset, weight, bias = tensors
    out = fn(x, offset, weight, bias, padding=PADDING)
    return [out.detach(), *torch.autograd.grad(out, tensors, upstream)]


def max_relative_error(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    return max(((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a, b in zip(ours, theirs, strict=True))


def measure(shape, offset_groups: int, repeats: int, threads: int) -> list[list[str]]:
    tensors = make_case(shape, offset_groups)
    x, offset, weight, bias = tensors
    with torch.no_grad():
        upstream = torch.randn(tv_deform_conv2d(x, offset, weight, bias, padding=PADDING).shape)
    error = max_relative_error(
        forward_backward(deform_conv2d, tensors, upstream), forward_backward(tv_deform_conv2d, tensors, upstream)
    )

    def forward(fn):
        def run():
            with torch.no_grad():
                fn(x, offset, weight, bias, padding=PADDING)
        return run

    def both(fn):
        return lambda: forward_backward(fn, tensors, upstream)

    rows = []
    for label, wrap in (("forward", forward), ("forward+backward", both)):
        seconds = interleaved_medians({"tv": wrap(tv_deform_conv2d), "cnnlab": wrap(deform_conv2d)}, repeats=repeats)
        tv_ms, ours_ms = 1e3 * seconds["tv"], 1e3 * seconds["cnnlab"]
        rows.append([str(threads), str(shape), str(offset_groups), label, f"{tv_ms:.1f}", f"{ours_ms:.1f}",
                     f"{tv_ms / ours_ms:.1f}x", f"{error:.1e}"])
        log(" | ".join(rows[-1]))
    return rows


def targets(rows: list[list[str]]) -> list[list[str]]:
    """The target: forward+backward at least TARGET_SPEEDUP times torchvision's."""
    out = []
    for threads, shape, groups, label, _, _, speedup, _ in rows:
        if label == "forward+backward":
            met = float(speedup.rstrip("x")) >= TARGET_SPEEDUP
            out.append([threads, shape, groups, speedup, "met" if met else "**missed**"])
    return out


def report(rows: list[list[str]], threads: list[int], quick: bool, command: str) -> str:
    headers = ["threads", "shape (N, C, H, W)", "offset groups", "pass", "torchvision ms", "cnnlab ms", "speed-up",
               "max rel err"]
    worst = max(float(r[-1]) for r in rows)
    return "\n".join([
        "# Deformable convolution on CPU: cnnlab vs torchvision" + (" (quick smoke run)" if quick else ""),
        "",
        f"Command: `{command}`. 3x3 kernel, padding 1, C_out = C_in, no mask, offsets ~ N(0, {OFFSET_STD:g}^2); "
        f"median of interleaved rounds after a warm-up, at {' and '.join(map(str, threads))} torch thread(s). "
        f"Results agree to {worst:.1e} relative (output and gradients w.r.t. input, offset, weight, bias; "
        "target 1e-4). One thread compares the algorithms (torchvision's CPU sampling loops are single-threaded); "
        "the machine's thread count is what a user gets by default.",
        "",
        markdown_table(headers, rows),
        "",
        f"## Target: forward+backward ≥ {TARGET_SPEEDUP:g}x torchvision",
        "",
        *(["The target is set for the full run's shapes; at the quick run's tiny shape it is only indicative.", ""]
          if quick else []),
        markdown_table(["threads", "shape (N, C, H, W)", "offset groups", "speed-up", "status"], targets(rows)),
        "",
        "Machine:",
        "",
        machine_info_markdown(),
        f"- torchvision: {torchvision.__version__}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default 5, quick 2)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    thread_counts = [args.threads] if args.threads is not None else sorted({1, torch.get_num_threads()})
    repeats = args.repeats or cfg["repeats"]
    rows = []
    from rich.progress import Progress

    cases = [(t, shape, og) for t in thread_counts for shape in cfg["shapes"] for og in OFFSET_GROUPS]
    with Progress(transient=True) as progress:
        task = progress.add_task("deform_conv2d", total=len(cases))
        for threads, shape, offset_groups in cases:
            pin_threads(threads)
            rows += measure(shape, offset_groups, repeats, threads)
            progress.advance(task)
    command = "python benchmarks/deform.py" + (" --quick" if args.quick else "")
    command += f" --threads {args.threads}" if args.threads is not None else ""
    path = write_markdown("deform_quick" if args.quick else "deform",
                          report(rows, thread_counts, args.quick, command))
    log(f"wrote {path}")
    worst = max(float(r[-1]) for r in rows)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
