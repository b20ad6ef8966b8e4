"""Run every benchmark in this folder (each ``benchmarks/<name>.py`` that defines ``main(argv)``).

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--threads N]

Prints which benchmarks ran, which failed and which files were not benchmarks; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all", "common", "__init__"}


def discover(folder: Path = HERE) -> list[str]:
    """Names of the candidate benchmark modules, sorted."""
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_"))


def load(name: str, folder: Path = HERE) -> ModuleType:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the benchmarks import ``common`` as a sibling
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--threads", type=int, default=None, help="pass --threads N to every benchmark")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = discover()
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    selected = [n for n in names if args.only is None or n in args.only]
    passed = (["--quick"] if args.quick else []) + ([f"--threads={args.threads}"] if args.threads else [])
    ran, failed, not_benchmarks = [], [], []
    for name in selected:
        try:
            module = load(name)
        except Exception:  # noqa: BLE001 - report and go on with the others
            traceback.print_exc()
            failed.append(f"{name} (import failed)")
            continue
        if not callable(getattr(module, "main", None)):
            not_benchmarks.append(name)
            continue
        print(f"== {name} {' '.join(passed)}", flush=True)
        start = time.perf_counter()
        try:
            code = module.main(list(passed))
        except SystemExit as exc:
            code = exc.code
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            code = 1
        seconds = time.perf_counter() - start
        (ran if code in (0, None) else failed).append(f"{name} ({seconds:.0f} s)")
    print(f"ran: {', '.join(ran) or 'none'}")
    if not_benchmarks:
        print(f"skipped (no main()): {', '.join(not_benchmarks)}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
