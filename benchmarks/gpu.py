"""The GPU path in one short run: the ``cuda`` tests, deformable convolution against torchvision's CUDA kernels,
training images/s of the lecture's networks, and (optionally) the converged Fashion-MNIST comparison.

    PYTHONPATH=src python3 benchmarks/gpu.py [--quick] [--converged-epochs E]

Prepared for a machine with a CUDA device (it refuses to run without one). Steps, each recorded in
benchmarks/results/gpu.md (``--quick``: gpu_quick.md) even when a later one fails:

1. ``pytest -m cuda`` on the GPU test files (deformable conv fp32/fp16 vs torchvision, AMP bf16/fp16 through
   ``fit``, DDP over NCCL in one process, ``optimize_for_inference`` on CUDA, the converged budget on CUDA).
2. Deformable convolution, v2 3x3, forward and forward+backward: cnnlab (float32: its sparse-matrix path;
   float16: its reference formulation) vs ``torchvision.ops.deform_conv2d``, median of CUDA-synchronised
   repeats timed in turn (cnnlab.timing's interleaved clock).
3. Training images/s (forward, backward, SGD step; synthetic 1x32x32 batches of 256 already on the GPU,
   channels_last) of resnet18, mobilenet_v1, mobilenet_v2, googlenet and vgg11_bn, in float32 and with
   bf16 autocast.
4. With ``--converged-epochs E`` (E > 0): ``benchmarks/converged.py --with-vgg --epochs E`` (the converged
   Fashion-MNIST comparison, VGG-11-BN included) on the GPU; it needs Fashion-MNIST there
   (``CNNLAB_DATA`` pointing at a folder that holds ``fashion-mnist/``, e.g. copied into an ignored folder
   of the repository that travels with it).

Estimated time on one H200: steps 1-3 about 3-4 minutes (mostly imports and the tests' first CUDA calls).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from cnnlab.infer.backends import synchronised
from cnnlab.timing import interleaved_median_seconds
from common import machine_info_markdown, markdown_table, write_markdown

REPO = Path(__file__).resolve().parent.parent
CUDA_TESTS = ["tests/units/test_deform_cuda.py", "tests/train/test_cuda_train.py", "tests/infer/test_cuda_infer.py",
              "tests/compare/test_cuda_converged.py"]
NETWORKS = ["resnet18", "mobilenet_v1", "mobilenet_v2", "googlenet", "vgg11_bn"]
FULL = {"deform": (8, 64, 56), "repeats": 20, "train_batch": 256, "train_steps": 30}
QUICK = {"deform": (2, 16, 16), "repeats": 3, "train_batch": 32, "train_steps": 3}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gpu_info() -> str:
    props = torch.cuda.get_device_properties(0)
    return "\n".join([
        f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs",
        f"- torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
    ])


def run_cuda_tests() -> tuple[str, int]:
    """The cuda-marked tests; (pytest's summary lines, its exit code)."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "-m", "cuda", *CUDA_TESTS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=480)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "SKIPPED"))]
    return "\n".join([*lines, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]]), \
        done.returncode


def _deform_inputs(n: int, channels: int, side: int, dtype: torch.dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, channels, side, side, generator=gen)
    offset = 2 * torch.randn(n, 18, side, side, generator=gen)
    mask = torch.rand(n, 9, side, side, generator=gen)
    weight = torch.randn(channels, channels, 3, 3, generator=gen) / (3 * channels**0.5)
    bias = torch.randn(channels, generator=gen)
    return [t.to("cuda", dtype).requires_grad_() for t in (x, offset, weight, bias, mask)]


def time_deform(cfg: dict) -> str:
    """Median ms of cnnlab and torchvision, forward and forward+backward, float32 and float16."""
    from torchvision.ops import deform_conv2d as tv_deform

    from cnnlab.units.deform import deform_conv2d

    n, channels, side = cfg["deform"]
    body = []
    for dtype in (torch.float32, torch.float16):
        x, offset, weight, bias, mask = _deform_inputs(n, channels, side, dtype)

        def forward(fn, x=x, offset=offset, weight=weight, bias=bias, mask=mask):
            return fn(x, offset, weight, bias, padding=1, mask=mask)

        def train(fn):
            forward(fn).float().square().mean().backward()

        device = torch.device("cuda")
        for what, call, grad in (("forward", forward, False), ("forward+backward", train, True)):
            fns = {name: synchronised(lambda f=f, call=call: call(f), device)
                   for name, f in (("cnnlab", deform_conv2d), ("torchvision", tv_deform))}
            with torch.set_grad_enabled(grad):
                seconds = interleaved_median_seconds(fns, repeats=cfg["repeats"], warmup=2, inference=False)
            ours, theirs = 1e3 * seconds["cnnlab"], 1e3 * seconds["torchvision"]
            body.append([str(dtype).replace("torch.", ""), what, f"{ours:.3f}", f"{theirs:.3f}", f"{theirs / ours:.2f}x"])
            log(f"  deform {dtype} {what}: cnnlab {ours:.3f} ms, torchvision {theirs:.3f} ms")
    headers = ["dtype", "pass", "cnnlab ms", "torchvision ms", "cnnlab speed vs torchvision"]
    return (f"Input {n}x{channels}x{side}x{side}, 3x3 kernel, {channels} output channels, padding 1, one offset "
            f"group, modulated (v2); median of {cfg['repeats']} synchronised runs after 2 warm-ups.\n\n"
            + markdown_table(headers, body))


def time_training(cfg: dict) -> str:
    """Training images/s per network: float32 and bf16 autocast, channels_last, synthetic data on the GPU."""
    import cnnlab

    batch, steps = cfg["train_batch"], cfg["train_steps"]
    body = []
    for name in NETWORKS:
        cells = []
        for amp in (None, torch.bfloat16):
            torch.manual_seed(0)
            model = cnnlab.create_model(name, num_classes=10, in_chans=1).cuda().to(memory_format=torch.channels_last)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            images = torch.randn(batch, 1, 32, 32, device="cuda").contiguous(memory_format=torch.channels_last)
            labels = torch.randint(0, 10, (batch,), device="cuda")

            def step(model=model, optimizer=optimizer, images=images, labels=labels, amp=amp):
                with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
                    loss = torch.nn.functional.cross_entropy(model(images), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

            for _ in range(3):
                step()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            torch.cuda.synchronize()
            cells.append(f"{batch * steps / (time.perf_counter() - start):,.0f}")
        body.append([name, *cells])
        log(f"  train {name}: {cells[0]} images/s fp32, {cells[1]} bf16")
    return (f"Synthetic 1x32x32 images (Fashion-MNIST's shape, padded), batch {batch}, SGD with momentum, "
            f"channels_last; {steps} timed steps after 3 warm-ups.\n\n"
            + markdown_table(["network", "images/s float32", "images/s bf16 autocast"], body))


def run_converged(epochs: int) -> str:
    command = [sys.executable, "benchmarks/converged.py", "--with-vgg", "--epochs", str(epochs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    return (f"`{' '.join(command[1:])}` exited {done.returncode} after {time.perf_counter() - start:.0f} s; its "
            f"table is benchmarks/results/converged.md. Last lines:\n\n```\n" + "\n".join(tail) + "\n```")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, few repeats")
    parser.add_argument("--converged-epochs", type=int, default=0,
                        help="also run the converged comparison with this many epochs (0: skip)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device; none is available here")
    cfg = QUICK if args.quick else FULL
    name = "gpu_quick" if args.quick else "gpu"
    command = "PYTHONPATH=src python3 benchmarks/gpu.py" + (" --quick" if args.quick else "")
    command += f" --converged-epochs {args.converged_epochs}" if args.converged_epochs else ""
    sections = ["# The GPU path", f"Made by `{command}`.", machine_info_markdown(), gpu_info()]
    steps = [("cuda tests", None), ("Deformable convolution vs torchvision", lambda: time_deform(cfg)),
             ("Training throughput of the lecture's networks", lambda: time_training(cfg))]
    if args.converged_epochs > 0:
        steps.append(("Converged Fashion-MNIST comparison", lambda: run_converged(args.converged_epochs)))
    status = 0
    for title, step in steps:
        log(f"- {title}")
        try:
            if step is None:
                text, status = run_cuda_tests()
                text = f"`pytest -m cuda {' '.join(CUDA_TESTS)}` (exit {status}):\n\n```\n{text}\n```"
            else:
                text = step()
        except Exception as exc:  # noqa: BLE001 - the note records what failed and goes on
            text, status = f"**failed**: {type(exc).__name__}: {exc}", 1
        sections += [f"## {title}", text]
        write_markdown(name, "\n\n".join(sections) + "\n")  # each step's result is kept if a later one fails
    log(f"wrote benchmarks/results/{name}.md")
    return status


if __name__ == "__main__":
    sys.exit(main())
