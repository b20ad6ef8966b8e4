"""CPU inference: torchvision eager vs cnnlab eager vs cnnlab's backends (torch, onnxruntime, auto) vs onnxruntime.

    python benchmarks/inference.py [--quick] [--threads N] [--models resnet50 vgg16] [--compile]

Latency (batch 1) and throughput (batch 16) at 224x224 of the networks in MODELS; each time is the median
of repeats after warm-up, the variants timed in turn within each round, in balanced orders
(``cnnlab.timing.balanced_orders``). "optimized" is ``optimize_for_inference(backend="torch")``, "ort backend" cnnlab's
onnxruntime module (``backend="onnxruntime"``, built once per network, batch axis free), "auto" what
``backend="auto"`` returned for that row's shape, and "onnxruntime" a bare InferenceSession made here
with the same settings (the reference the targets are set against). The multiply-accumulates a network does per second are set against the best rate of a
few large fp32 matmuls timed in the same rounds (this machine's practical peak). cnnlab's network gets
torchvision's weights, so the variants compute the same function.
Writes benchmarks/results/inference.md (``--quick``: inference_quick.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn

from cnnlab.analysis import inspect
from cnnlab.infer import export_onnx, optimize_for_inference, output_errors
from cnnlab.infer.ort_module import session_options
from common import (
    add_common_args,
    interleaved_medians,
    machine_info_markdown,
    markdown_table,
    pin_threads,
    write_markdown,
)

MODELS = ("resnet50", "mobilenet_v2", "resnext50_32x4d", "vgg16")
FULL = {"image": 224, "batches": (1, 16), "repeats": 10, "warmup": 2, "gemm": (1024, 2048, 3072)}
QUICK = {"image": 32, "batches": (1, 2), "repeats": 2, "warmup": 1, "gemm": (256, 512)}
VARIANTS = ("torchvision", "cnnlab", "optimized", "ort backend", "auto", "onnxruntime")

# (what, model, batch index (0: latency, 1: throughput), variant, minimum)
SPEEDUP_TARGETS = [
    ("optimized vs torchvision eager", "mobilenet_v2", 1, "optimized", 1.5),
    ("optimized vs torchvision eager", "resnet50", 1, "optimized", 1.3),
]
EAGER_TARGET = 0.95  # cnnlab eager / torchvision eager speed, every model and batch
PEAK_TARGET = ("resnet50", 1, "optimized", 0.60)  # fraction of the matmul peak
# auto at least as fast as the best runtime here, every row; and these speedups of auto
AUTO_VS_ORT_TARGET = 0.95  # auto speed / onnxruntime speed
AUTO_TARGETS = [("auto vs torchvision eager", "resnet50", 1, "auto", 2.5),
                ("auto vs torchvision eager", "mobilenet_v2", 1, "auto", 4.0)]


@dataclass
class Row:
    """One model at one batch size: median seconds per variant and notes on how each was made."""

    model: str
    batch: int
    macs: int  # multiply-accumulates of one forward at this batch
    peak: float  # matmul MACs per second, timed in the same rounds as the variants
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    auto_backend: str = ""  # what optimize_for_inference(backend="auto") returned at this shape


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sgemm(n: int):
    """An n x n x n fp32 matmul (n**3 multiply-accumulates), the machine's practical peak: the profile's own
    peak kernel, so the benchmark's "% of peak" and ``cnnlab profile``'s roof are one measurement."""
    from cnnlab.analysis.profile.machine import gemm

    return gemm(n)


def build_cnnlab(name: str, reference: nn.Module) -> tuple[nn.Module | None, str]:
    """cnnlab's network of that name carrying torchvision's weights, or None and why not."""
    try:
        import cnnlab

        model = cnnlab.create_model(name, checkpoint=reference.state_dict()).eval()
    except Exception as exc:  # noqa: BLE001 - the table says what went wrong
        return None, f"cnnlab {name} unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        _, rel = output_errors(model(x), reference(x))
    return model, f"same weights as torchvision, outputs differ by {rel:.1e} (relative)"


def ort_session(model: nn.Module, image: int, threads: int, folder: Path):
    """A bare InferenceSession with the options cnnlab's OrtModule uses (``session_options``)."""
    import onnxruntime as ort

    result = export_onnx(model, folder / "model.onnx", (1, 3, image, image), dynamic_batch=True)
    session = ort.InferenceSession(str(result.path), session_options(threads), providers=["CPUExecutionProvider"])
    return session, f"{result.exporter} exporter, opset {result.opset}"


def bench_model(name: str, cfg: dict, threads: int, compile_: bool, folder: Path) -> list[Row]:
    """Each batch size: the variants and the sgemm timed in turn per round (load hits all alike)."""
    reference = getattr(torchvision.models, name)().eval()
    model, cnnlab_note = build_cnnlab(name, reference)
    base = model if model is not None else reference  # the optimized path then runs on torchvision's net
    session, ort_note = ort_session(base, cfg["image"], threads, folder)
    input_name = session.get_inputs()[0].name
    start = time.perf_counter()
    ort_backend = optimize_for_inference(base, torch.randn(1, 3, cfg["image"], cfg["image"]), backend="onnxruntime")
    ort_backend_note = f"{ort_backend.cnnlab_inference_info.summary()}; built in {time.perf_counter() - start:.0f} s"
    macs_per_image = inspect(reference, (1, 3, cfg["image"], cfg["image"])).macs  # conv + linear MACs
    rows = []
    for batch in cfg["batches"]:
        x = torch.randn(batch, 3, cfg["image"], cfg["image"])
        x_numpy = x.numpy()
        start = time.perf_counter()
        fast = optimize_for_inference(base, x, backend="torch", compile=compile_)
        info = fast.cnnlab_inference_info
        opt_note = f"{info.summary()}; built in {time.perf_counter() - start:.0f} s"
        start = time.perf_counter()
        auto = optimize_for_inference(base, x, backend="auto")
        auto_info = auto.cnnlab_inference_info
        auto_note = f"picked {auto_info.backend}: {auto_info.backend_reason}; max rel error " \
                    f"{auto_info.max_rel_error:.1e}; built in {time.perf_counter() - start:.0f} s"
        if model is None:
            opt_note = "on torchvision's net (no cnnlab net); " + opt_note
        fns = {"torchvision": lambda x=x: reference(x), "optimized": lambda x=x, f=fast: f(x),
               "ort backend": lambda x=x: ort_backend(x), "auto": lambda x=x, f=auto: f(x),
               "onnxruntime": lambda x=x_numpy: session.run(None, {input_name: x})}
        fns.update({f"sgemm {n}": sgemm(n) for n in cfg["gemm"]})
        if model is not None:
            fns["cnnlab"] = lambda x=x: model(x)
        with torch.inference_mode():
            ort_rel = output_errors(torch.from_numpy(fns["onnxruntime"]()[0]), reference(x))[1]
            seconds = interleaved_medians(fns, repeats=cfg["repeats"], warmup=cfg["warmup"])
        notes = {"cnnlab": cnnlab_note, "optimized": opt_note, "ort backend": ort_backend_note, "auto": auto_note,
                 "onnxruntime": f"{ort_note}; outputs differ by {ort_rel:.1e} (relative)"}
        peak = max(n**3 / seconds.pop(f"sgemm {n}") for n in cfg["gemm"])  # the best size's rate
        rows.append(Row(name, batch, macs_per_image * batch, peak, seconds, notes, auto_info.backend))
        log(f"  {name} batch {batch}: " + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in seconds.items()))
    return rows


def _speedup(row: Row, variant: str) -> float | None:
    if variant not in row.seconds:
        return None
    return row.seconds["torchvision"] / row.seconds[variant]


def _relative(row: Row, variant: str, other: str) -> float | None:
    """Speed of ``variant`` relative to ``other`` (> 1: faster)."""
    if variant not in row.seconds or other not in row.seconds:
        return None
    return row.seconds[other] / row.seconds[variant]


def _peak_fraction(row: Row, variant: str) -> float | None:
    if variant not in row.seconds:
        return None
    return row.macs / row.seconds[variant] / row.peak


def _cell(seconds: float | None, ratio: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{1e3 * seconds:.1f}" + (f" ({ratio:.2f}x)" if ratio is not None else "")


def times_table(rows: list[Row]) -> str:
    headers = ["model", "batch", "GMACs", "sgemm GMAC/s", "torchvision eager ms", "cnnlab eager ms (x tv)",
               "cnnlab optimized (torch) ms (x tv)", "cnnlab ort backend ms (x tv)", "cnnlab auto ms (x tv)",
               "auto picked", "onnxruntime ms (x tv)", "optimized % of peak", "auto % of peak",
               "onnxruntime % of peak"]
    body = []
    for r in rows:
        cells = [_cell(r.seconds.get(v), _speedup(r, v) if v != "torchvision" else None) for v in VARIANTS]
        cells.insert(VARIANTS.index("auto") + 1, r.auto_backend or "n/a")
        fractions = [_peak_fraction(r, v) for v in ("optimized", "auto", "onnxruntime")]
        body.append([r.model, r.batch, f"{r.macs / 1e9:.2f}", f"{r.peak / 1e9:.1f}", *cells,
                     *("n/a" if f is None else f"{100 * f:.0f}%" for f in fractions)])
    return markdown_table(headers, body)


def _status(value: float | None, minimum: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value >= minimum else "**missed**"


def _needed_rate(row: Row, minimum: float) -> str:
    """What a speed-up target asks of the machine: the MAC rate it needs against the fp32 matmul peak."""
    rate = row.macs / (row.seconds["torchvision"] / minimum)
    return f"{minimum}x needs {rate / 1e9:.0f} GMAC/s, {100 * rate / row.peak:.0f}% of the fp32 matmul peak"


def targets_table(rows: list[Row], batches: tuple[int, ...]) -> str:
    find = {(r.model, r.batch): r for r in rows}
    body = []

    def add(text: str, value: float | None, minimum: float, note: str = "", percent: bool = False) -> None:
        shown = "n/a" if value is None else f"{100 * value:.0f}%" if percent else f"{value:.3f}x"
        body.append([text, shown, _status(value, minimum), note])

    for r in rows:
        value = _speedup(r, "cnnlab")
        add(f"cnnlab eager ≥ {EAGER_TARGET}x torchvision eager, {r.model} batch {r.batch}", value, EAGER_TARGET)
    for what, model, index, variant, minimum in SPEEDUP_TARGETS:
        row = find.get((model, batches[index]))
        value = None if row is None else _speedup(row, variant)
        add(f"{what} ≥ {minimum}x, {model} batch {batches[index]}", value, minimum)
    model, index, variant, minimum = PEAK_TARGET
    row = find.get((model, batches[index]))
    value = None if row is None else _peak_fraction(row, variant)
    add(f"{variant} ≥ {100 * minimum:.0f}% of matmul peak, {model} batch {batches[index]}", value, minimum,
        percent=True)
    for r in rows:
        value = _relative(r, "auto", "onnxruntime")
        add(f"auto ≥ {AUTO_VS_ORT_TARGET}x onnxruntime, {r.model} batch {r.batch}", value, AUTO_VS_ORT_TARGET,
            f"auto picked {r.auto_backend}")
    for what, model, index, variant, minimum in AUTO_TARGETS:
        row = find.get((model, batches[index]))
        value = None if row is None else _speedup(row, variant)
        ort = None if row is None else _speedup(row, "onnxruntime")
        note = "" if row is None else (f"{_needed_rate(row, minimum)}; onnxruntime, the fastest runtime here, "
                                       f"reached {ort:.2f}x ({100 * _peak_fraction(row, 'onnxruntime'):.0f}%)")
        add(f"{what} ≥ {minimum}x, {model} batch {batches[index]}", value, minimum, note)
    return markdown_table(["target", "measured", "status", "note"], body)


def notes_table(rows: list[Row]) -> str:
    body = [[r.model, r.batch, v, r.notes[v]] for r in rows for v in VARIANTS[1:] if v in r.notes]
    return markdown_table(["model", "batch", "variant", "how it was built"], body)


def render(rows: list[Row], cfg: dict, args: argparse.Namespace, gemm_note: str) -> str:
    command = "python benchmarks/inference.py" + (" --quick" if args.quick else "")
    command += " --compile" if args.compile else ""
    parts = [
        "# CPU inference: torchvision vs cnnlab's backends vs onnxruntime",
        f"Made by `{command}`. Input {cfg['image']}x{cfg['image']}, batch {' and '.join(map(str, cfg['batches']))}; "
        f"median of {cfg['repeats']} runs after {cfg['warmup']} warm-up(s), the variants timed in turn each round in balanced orders (each first, and right after each other one, equally often over a cycle; `cnnlab.timing.balanced_orders`). "
        "x tv = speed relative to torchvision eager (higher is faster). MACs count conv and linear layers. "
        "optimized = `optimize_for_inference(backend=\"torch\")`; ort backend = cnnlab's onnxruntime module "
        "(`backend=\"onnxruntime\"`); auto = what `backend=\"auto\"` returned for the row's shape (column auto "
        "picked); onnxruntime = a bare InferenceSession with the same settings, the reference.",
        machine_info_markdown(),
        f"- matmul peak: {gemm_note}, timed in the same rounds as each row's variants (column sgemm GMAC/s)",
    ]
    if args.quick:
        parts.append("**Quick smoke run**: small inputs and few repeats; the targets are defined for the full "
                     "run (224x224, batch 1 and 16) and are only indicative here. Its times depend on what else "
                     "the machine runs (load average above).")
    parts += ["## Times", times_table(rows), "## Targets", targets_table(rows, cfg["batches"]),
              "## How each variant was built", notes_table(rows)]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, help="networks to time")
    parser.add_argument("--compile", action="store_true", help="optimized path also uses torch.compile")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    threads = pin_threads(args.threads)
    log(f"inference benchmark: {threads} thread(s), {'quick' if args.quick else 'full'} run")
    sizes = ", ".join(f"{n}³" for n in cfg["gemm"])
    gemm_note = f"the best rate of fp32 square torch.mm at {sizes}, {threads} thread(s)"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as folder:
        for name in args.models:
            log(f"- {name}")
            rows += bench_model(name, cfg, threads, args.compile, Path(folder))
    name = "inference_quick" if args.quick else "inference"  # a smoke run never replaces the full table
    path = write_markdown(name, render(rows, cfg, args, gemm_note))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
