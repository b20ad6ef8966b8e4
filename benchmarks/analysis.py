"""Time and memory of cnnlab.inspect against fvcore, ptflops, thop, torchinfo and FlopCounterMode.

Each (tool, input) runs in its own subprocess on the same torchvision model with real weights, so
memory is measured cleanly: peak RSS growth (``ru_maxrss`` after minus before the call, which covers
tensors allocated by torch) and the Python-heap peak from ``tracemalloc``. Peers run a real forward;
cnnlab propagates meta tensors. Writes a markdown table atomically to benchmarks/results/analysis.md
(``--quick``: a small smoke run written to analysis_quick.md).

    python benchmarks/analysis.py            # resnet152 at 1x3x224x224 and 8x3x1024x1024
    python benchmarks/analysis.py --quick    # resnet18 at 1x3x224x224 and 2x3x256x256
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cnnlab.atomic import atomic_write_text

TOOLS = ("cnnlab", "FlopCounterMode", "fvcore", "ptflops", "thop", "torchinfo")
RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, resource, sys, time, tracemalloc, warnings
warnings.filterwarnings("ignore")
import torch, torchvision
torch.set_num_threads(int(sys.argv[4]))
tool, model_name, shape = sys.argv[1], sys.argv[2], tuple(int(v) for v in sys.argv[3].split("x"))
model = getattr(torchvision.models, model_name)().eval()

def run():
    if tool == "cnnlab":
        from cnnlab.analysis import inspect
        r = inspect(model, shape)
        return r.params, r.macs_by_kind.get("conv", 0) + r.macs_by_kind.get("linear", 0)
    x = torch.randn(shape)
    if tool == "FlopCounterMode":
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2
    if tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis
        a = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        ops = a.by_operator()
        return sum(p.numel() for p in model.parameters()), ops.get("conv", 0) + ops.get("linear", 0) + ops.get("addmm", 0)
    if tool == "ptflops":
        from ptflops import get_model_complexity_info
        macs, params = get_model_complexity_info(model, shape[1:], as_strings=False, print_per_layer_stat=False,
                                                 verbose=False, input_constructor=lambda _: {"x": x})
        return params, macs
    if tool == "thop":
        import thop
        macs, params = thop.profile(model, inputs=(x,), verbose=False)
        return int(params), int(macs)
    if tool == "torchinfo":
        import torchinfo
        s = torchinfo.summary(model, input_data=x, verbose=0)
        return s.total_params, s.total_mult_adds

import importlib
importlib.import_module({"cnnlab": "cnnlab.analysis", "FlopCounterMode": "torch.utils.flop_counter"}.get(tool, tool))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
params, macs = run()
seconds = time.perf_counter() - start
rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
if shape[0] * shape[2] * shape[3] <= 4 * 512 * 512 or tool == "cnnlab":  # tracemalloc slows Python: separate run
    tracemalloc.start()
    run()
    python_peak = tracemalloc.get_traced_memory()[1]
else:
    python_peak = 0
print(json.dumps({"seconds": seconds, "rss_bytes": rss, "python_bytes": python_peak, "params": int(params), "macs": int(macs)}))
"""


def measure(tool: str, model: str, shape: str, threads: int, timeout: float) -> dict:
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, tool, model, shape, str(threads)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode < 0:  # SIGKILL here is the kernel's out-of-memory killer on a 24 GiB machine
        return {"error": f"killed by signal {-done.returncode} (out of memory?)"}
    if done.returncode != 0:
        lines = (done.stderr.strip() or f"failed with exit code {done.returncode}").splitlines()
        return {"error": lines[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


TARGET_SPEEDUP = 100.0  # inspect at least this many times faster than every peer on the largest input


def verdict(results: dict[str, dict[str, dict]]) -> str:
    """Met / missed: inspect ≥ TARGET_SPEEDUP x faster than every peer that finished on the largest input."""
    shape = list(results)[-1]
    per_tool = results[shape]
    base = per_tool.get("cnnlab", {}).get("seconds")
    ratios = {t: r["seconds"] / base for t, r in per_tool.items() if t != "cnnlab" and "seconds" in r and base}
    failed = [t for t, r in per_tool.items() if t != "cnnlab" and "error" in r]
    if not ratios:
        return f"Target (inspect ≥ {TARGET_SPEEDUP:.0f}× faster than every peer at {shape}): no peer finished."
    slowest = min(ratios, key=ratios.get)
    state = "met" if ratios[slowest] >= TARGET_SPEEDUP else "missed"
    note = f" ({', '.join(failed)} did not finish: see the table)" if failed else ""
    return (f"Target: inspect ≥ {TARGET_SPEEDUP:.0f}× faster than every peer at {shape} — **{state}**: the "
            f"fastest peer, {slowest}, takes {ratios[slowest]:,.0f}× as long{note}.")


def render(model: str, results: dict[str, dict[str, dict]], threads: int, command: str = "") -> str:
    lines = [f"# inspect vs peers on {model} (CPU, {threads} thread(s))", "",
             f"Command: `{command}`" if command else "", "", verdict(results), "",
             "Time: wall clock of the counting call (model built beforehand). Memory: peak RSS growth "
             "(ru_maxrss delta of the timed call, includes torch tensors) and Python-heap peak (tracemalloc, "
             "in a second untimed call; skipped (0) for the large input of the peers), each tool in its own "
             "process, its module imported before timing. MACs: conv + linear as each tool reports them (ptflops, thop and torchinfo "
             "add norm / activation / pooling counts to their total, so theirs differ).", ""]
    for shape, per_tool in results.items():
        base = per_tool.get("cnnlab", {}).get("seconds")
        lines += [f"## input {shape}", "", "| tool | time (s) | × cnnlab | peak RSS growth | Python peak | params | MACs |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for tool, r in per_tool.items():
            if "error" in r:
                lines.append(f"| {tool} | {r['error']} | | | | | |")
                continue
            ratio = f"{r['seconds'] / base:,.1f}" if base else "-"
            lines.append(f"| {tool} | {r['seconds']:.3f} | {ratio} | {_fmt_bytes(r['rss_bytes'])} | "
                         f"{_fmt_bytes(r['python_bytes'])} | {r['params']:,} | {r['macs']:,} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per tool and input")
    args, _ = parser.parse_known_args(argv)  # tolerate options meant for benchmarks/run_all.py
    if args.quick:
        model, shapes, timeout, out = "resnet18", ["1x3x224x224", "2x3x256x256"], 120.0, "analysis_quick.md"
    else:
        model, shapes, timeout, out = "resnet152", ["1x3x224x224", "8x3x1024x1024"], 3600.0, "analysis.md"
    timeout = args.timeout or timeout
    results: dict[str, dict[str, dict]] = {}
    for shape in shapes:
        results[shape] = {}
        for tool in TOOLS:
            results[shape][tool] = measure(tool, model, shape, args.threads, timeout)
            print(shape, tool, results[shape][tool], flush=True)
    path = RESULTS / out
    command = "python benchmarks/analysis.py " + " ".join(argv if argv is not None else sys.argv[1:])
    atomic_write_text(path, render(model, results, args.threads, command.strip()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
