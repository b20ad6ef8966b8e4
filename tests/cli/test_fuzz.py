"""Fuzz every command: hypothesis-generated command lines end with exit 0 or 2 and never a traceback.

The README promises that every command meets bad input with one ``error:`` line and status 2. Here each
command gets command lines built from its options, each value drawn from a pool of valid values and one of
malformed numbers, negative, huge, NaN and infinite values, empty strings, unicode, missing files, folders
where files are expected, files where folders are expected, bad model names and specs and bad shapes. Every
case asserts: no exception escapes, the exit status is 0 or 2, ``Traceback`` appears nowhere, and a status 2
comes with exactly one ``error:`` line on stderr. Budgets stay tiny (digits, 32 images, one epoch, the toy
search objective, meta-device analysis) so valid command lines run too; the whole file took about 1.5
minutes on 2 busy cores (one torch thread) before proxies, profile, explore, rf --effective and search's, train's
and compare's newer options were added; those add about 125 cases. Read-only and full file systems are tiny tmpfs mounts, where the tests run as root.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cnnlab
from cnnlab.cli.main import app

runner = CliRunner()
CASES: dict[str, int] = {}  # command -> fuzz cases run, checked by test_the_fuzz_ran_at_least_500_cases
MIN_CASES = 500
_fresh = itertools.count()

FUZZ = settings(derandomize=True, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------- one case


def run_cli(command: str, args: list[str]):  # noqa: ANN201 - a click Result
    """Run ``cnnlab ARGS`` in-process and assert the error promise; FRESH becomes a new folder name."""
    args = [a.replace("FRESH", f"fresh/{next(_fresh)}") for a in args]
    CASES[command] = CASES.get(command, 0) + 1
    result = runner.invoke(app, args)
    shown = "cnnlab " + " ".join(repr(a) if not a or " " in a else a for a in args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"{shown} raised instead of reporting:\n{trace}")
    assert result.exit_code in (0, 2), f"{shown} exited {result.exit_code}:\n{result.output}"
    assert "Traceback" not in result.output, f"{shown}:\n{result.output}"
    if result.exit_code == 2 and not result.output.lstrip().startswith("Usage"):  # a group alone: its help
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{shown} stderr:\n{result.stderr}"
    return result


# ---------------------------------------------------------------- values

TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=10)
BAD_NUMBERS = ["", " ", "abc", "nan", "inf", "-inf", "1e309", "1.5", "0x10", "²", "３", "--", "99999999999999999999999",
               "-99999999999999999999", "2147483648", "-1", "0", "１２"]


@dataclass(frozen=True)
class Values:
    """What an argument may be: ``valid`` values, and ``bad`` ones (malformed, out of range, odd text)."""

    valid: st.SearchStrategy[str]
    bad: st.SearchStrategy[str]


def ints(valid: list[int] | range, bad: list[str] | None = None) -> Values:
    return Values(st.sampled_from([str(v) for v in valid]), st.one_of(st.sampled_from(bad or BAD_NUMBERS), TEXT))


def floats(valid: list[float]) -> Values:
    odd = ["nan", "inf", "-inf", "1e309", "-1e309", "", "x", "-0.0", "1e-320", "-1"]
    return Values(st.sampled_from([repr(v) for v in valid]),
                  st.one_of(st.sampled_from(odd), st.floats().map(repr), TEXT))


def pick(valid: list[str], bad: list[str]) -> Values:
    return Values(st.sampled_from(valid), st.one_of(st.sampled_from(bad), TEXT))


FLAG = None  # an option that takes no value
MODES = ("all valid", "one bad", "any")


@st.composite
def command_line(draw, positional: tuple[Values, ...], table: dict[str, Values | None],
                 always: tuple[str, ...] = ()) -> list[str]:
    """Positional arguments, then some of ``table``'s options (``always``: every time), with values all valid,
    all valid but one, or each valid or bad: a valid command line, one mistake, or many."""
    mode = draw(st.sampled_from(MODES))
    chosen = [name for name in table if name in always or draw(st.booleans())]
    slots = list(range(len(positional))) + [name for name in chosen if table[name] is not None]
    wrong = draw(st.sampled_from(slots)) if mode == "one bad" and slots else None

    def value(slot: int | str, values: Values) -> str:
        if mode == "any":
            return draw(st.one_of(values.valid, values.bad))
        return draw(values.bad if slot == wrong else values.valid)

    args = [value(i, values) for i, values in enumerate(positional)]
    for name in chosen:
        args += [name] if table[name] is None else [name, value(name, table[name])]
    return args


SHAPES = pick(["1x3x32x32", "2x3x16x16", "1x3x64x48", "1x3x8x8", "1X3X32X32", " 1x3x16x16 "],
              ["1x3x224", "1x3", "3", "", "x", "0x3x32x32", "1x3x-1x2", "1x3xnanx2", "1x3x1.5x2", "1x3x32x32x32",
               "1x3x1000000000x1000000000", "1x3x99999999999999999999x1", "1x3x²x2", "１x3x8x8", "1,3,32,32",
               "1x1x32x32"])
MODELS = pick(["resnet18", "mobilenet_v1_025", "shufflenet_v1_g3", "resnet18:num_classes=7", "nasnet:C=8,N=1",
               "tiny.py:Tiny", "resnet18:", "mobilenet_v1_025:drop_rate=0.2"],
              ["resnet81", "", " ", ":", "resnet18:foo=1", "resnet18:drop_rate=abc", "resnet18:drop_rate=2",
               "resnet18:=3", "resnet18:a", "nasnet:genotype=missing.json", "nasnet:genotype=afile", "syntax.py:Net",
               "needargs.py:Net", "missing.py:Net", "adir:Net", "tiny.py:", "tiny.py:Nope", "os:path", "os:sep",
               "no_such_module_xyz:Net", "ünï", "RESNET18", "resnet18 ", "-resnet18", "randwire_tiny"])
IMAGES = pick(["photo.png", "grey.png", "wide.jpg"],
              ["notes.jpg", "empty.png", "adir", "missing.png", "afile/x.png", "", ".", "/dev/null"])
OUT_FILES = pick(["out/rf.png", "FRESH/x.png", "ünï/çødé.png"],
                 ["adir", "afile/x.png", "", ".", "..", "/dev/null/x.png", "afile"])
OUT_FOLDERS = pick(["FRESH", "ünï/FRESH"], ["afile", "afile/sub", "", "/dev/null/x"])


def _case(command: str, prefix: list[str], args: list[str]) -> None:
    run_cli(command, [*prefix, *args])


# ---------------------------------------------------------------- fixtures

TINY_MODEL = """
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))
"""
TRAIN_BUDGET = ["--data", "digits", "--epochs", "1", "--limit-train", "32", "--limit-val", "16", "--limit-test", "16",
                "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def workdir(tmp_path_factory):
    """A working folder holding every file the pools name; the commands run inside it."""
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz")
    previous, threads = Path.cwd(), torch.get_num_threads()
    os.chdir(root)
    torch.set_num_threads(1)  # tiny models: one thread is as fast, and a busy machine is not oversubscribed
    try:
        Image.new("RGB", (40, 30), (200, 30, 30)).save("photo.png")
        Image.new("L", (16, 16), 90).save("grey.png")
        Image.new("RGB", (64, 16), (10, 200, 30)).save("wide.jpg")
        Path("notes.jpg").write_text("not an image")
        Path("empty.png").write_bytes(b"")
        Path("adir").mkdir()
        Path("afile").write_text("")
        Path("tiny.py").write_text(TINY_MODEL)
        Path("syntax.py").write_text("class Net(\n")
        Path("needargs.py").write_text("from torch import nn\nclass Net(nn.Module):\n    def __init__(self, w):\n"
                                       "        super().__init__()\n")
        Path("junk.pt").write_bytes(os.urandom(300))
        Path("empty.pt").write_bytes(b"")
        torch.save(cnnlab.create_model("randwire_tiny").state_dict(), "statedict.pt")
        assert runner.invoke(app, ["train", "randwire_tiny", *TRAIN_BUDGET, "--out", "run"]).exit_code == 0
        for folder in ("search", "badstate"):
            made = runner.invoke(app, ["search", "--data", "toy", "--trials", "1", "--no-progress", "--out", folder])
            assert made.exit_code == 0, made.output
        for state in Path("badstate").glob("state-*.pt"):  # a strategy state cut in half
            state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
        yield root
    finally:
        os.chdir(previous)
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- arith


@settings(FUZZ, max_examples=100)
@given(command_line((), {"--n": ints(range(1, 40)), "--k": ints([1, 3, 5, 7]), "--p": ints([0, 1, 2]),
                         "--s": ints([1, 2, 3]), "--d": ints([1, 2]), "--ceil": FLAG, "--pool": FLAG,
                         "--transposed": FLAG, "--output-padding": ints([0, 1])}, always=("--n",)))
@example(["--n", "7", "--k", "3", "--d", "2"])
def test_arith_conv(args):
    _case("arith conv", ["arith", "conv"], args)


LAYER_SPECS = pick(["conv k3 s2 p1, conv k3 s2 p1", "pool k2 s2", "conv k3 d2, conv k3", "deconv k4 s2 p1, conv k3",
                    "up s2, conv k3 p1"],
                   ["", "conv", "conv k0", "conv k3 q2", "conv k3 s99999999999999999999", "conv k-1", ",", "k3 conv",
                    "conv k3 s0", "conv k3 p-1", "conv k² s1", "deconv k1 s2 p5"])


@settings(FUZZ, max_examples=100)
@given(command_line((LAYER_SPECS,), {"--n": ints(range(1, 64)), "--r0": floats([1.0, 3.0]),
                                     "--j0": floats([1.0, 2.0]), "--start0": floats([0.5, 1.5])}, always=("--n",)))
@example(["conv k3 s2 p1, conv k3 s2 p1", "--n", "5"])
def test_arith_rf(args):
    _case("arith rf", ["arith", "rf"], args)


@settings(FUZZ, max_examples=70)
@given(command_line((), {"--dk": ints([1, 3]), "--m": ints([8, 32]), "--n": ints([16, 64]), "--df": ints([7, 112]),
                         "--groups": ints([1, 2, 4, 3])}, always=("--m", "--n", "--df")))
@example(["--dk", "3", "--m", "32", "--n", "64", "--df", "112"])
def test_arith_cost(args):
    _case("arith cost", ["arith", "cost"], args)


# ---------------------------------------------------------------- list, show, table, rf

PATTERNS = pick(["resnet1*", "vgg11", "nas*", "mobilenet_v1_0*", "randwire_tiny"],
                ["", "[", "[/red]", "]", "ünï", "\\", "resnet1[", "x" * 300])


@settings(FUZZ, max_examples=20)
@given(command_line((PATTERNS,), {"--format": pick(["rich", "md"], ["xx", "", "RICH", "json"])})
       .filter(lambda args: not any(c in args[0] for c in "*?") or args[0] in ("resnet1*", "nas*", "mobilenet_v1_0*")))
def test_list(args):
    _case("list", ["list"], args)


@settings(FUZZ, max_examples=60)
@given(command_line((MODELS,), {"--input": SHAPES, "--depth": ints([0, 1, 2, 3]),
                                "--format": pick(["rich", "md", "json", "csv"], ["xx", "", "JSON"])}))
@example(["resnet18:num_classes=7", "--input", "1x3x32x32", "--format", "json"])
@example(["torchvision.models:resnet18", "--input", "1x3x64"])
def test_show(args):
    _case("show", ["show"], args)


@settings(FUZZ, max_examples=40)
@given(command_line((MODELS,), {"--input": SHAPES}))
@example(["randwire_tiny"])
def test_table(args):
    _case("table", ["table"], args)


@settings(FUZZ, max_examples=45)
@given(command_line((MODELS,), {"--input": SHAPES, "--image": IMAGES, "--out": OUT_FILES,
                                "--unit": pick(["0,0", "1,1", "2,3"], ["a,b", "1", "-1,0", "99999999999999999999,0",
                                                                       "²,1", "", "1,2,3", " , "])}))
@example(["resnet18", "--input", "1x3x32x32", "--image", "photo.png", "--out", "out/rf.png"])
def test_rf(args):
    _case("rf", ["rf"], args)


# ---------------------------------------------------------------- export

EXPORT_SOURCES = pick(["mobilenet_v1_025", "randwire_tiny", "run", "run/checkpoint.pt"],
                      ["junk.pt", "empty.pt", "statedict.pt", "missing.pt", "resnet81", "mobilenet_v1_025:foo=1", "",
                       "adir", "afile", "tiny.py:Tiny"])


@settings(FUZZ, max_examples=35)
@given(command_line(
    (EXPORT_SOURCES,),
    {"--onnx": pick(["out/m.onnx", "FRESH/m.onnx"], ["adir", "afile/m.onnx", "", "/dev/null/m.onnx"]),
     "--input": pick(["1x3x32x32", "2x3x16x16"], ["1x3x224", "1x3x100000x100000", "0x3x8x8", "1x3x²x2", "",
                                                  "1x1x8x8"]),
     "--opset": ints([7, 11, 13, 17], ["1", "6", "24", "999", "0", "-1", "abc", "", "nan"]),
     "--num-classes": ints([10, 3]), "--checkpoint": pick(["run/checkpoint.pt"], ["missing.pt", "junk.pt"]),
     "--static-batch": FLAG},
    always=("--onnx", "--opset")))
@example(["run", "--onnx", "out/grey.onnx", "--opset", "17"])
def test_export(args):
    _case("export", ["export"], args)


# ---------------------------------------------------------------- train, compare, demo


@settings(FUZZ, max_examples=30)
@given(command_line(
    (pick(["randwire_tiny", "mobilenet_v1_025", "mobilenet_v1_025:drop_rate=0.1"],
          ["resnet81", "", ":", "tiny.py:Tiny", "mobilenet_v1_025:foo=1", "randwire_tiny:nodes=1", "ünï"]),),
    {"--out": OUT_FOLDERS,
     "--data": pick(["digits"], ["missing-ds", "adir", "afile", "", "ünï", "photo.png"]),
     "--epochs": ints([1], ["0", "-1", "abc", "", "nan", "99999999999999999999"]),
     "--batch-size": ints([8, 16], ["0", "-1", "100000000000", "", "x"]),
     "--lr": floats([0.05, 0.01]), "--momentum": floats([0.9, 0.0]), "--weight-decay": floats([0.0, 5e-4]),
     "--optimizer": pick(["sgd", "adamw"], ["x", "", "SGD"]), "--warmup-epochs": floats([0.0, 0.5]),
     "--label-smoothing": floats([0.0, 0.1]), "--precise-bn-batches": ints([0, 1]),
     "--amp": pick(["auto", "off"], ["fp16x", "", "on"]), "--device": pick(["auto", "cpu"], ["cuda:7", "tpu", ""]),
     "--image-size": ints([8, 16], ["0", "-1", "100000", "4097", "", "nan"]),
     "--in-chans": ints([1, 3], ["0", "-1", "100000", ""]), "--val-fraction": floats([0.1, 0.5]),
     "--seed": ints([0, 7, 4294967295], ["4294967296", "-1", "99999999999999999999", "nan"]),
     "--limit-train": ints([16, 32], ["0", "-1", ""]), "--limit-val": ints([8], ["0", "-1"]),
     "--limit-test": ints([8], ["0", "-1"]), "--resume": FLAG, "--overwrite": FLAG, "--channels-last": FLAG},
    always=("--out",)))
@example(["randwire_tiny", "--out", "FRESH"])
def test_train(args):
    _case("train", ["train", *args[:1], *TRAIN_BUDGET], args[1:])


COMPARE_MODEL = pick(["randwire_tiny", "mobilenet_v1_025"], ["resnet81", "", "resnet18:foo=1", ":"])
COMPARE_BUDGET = ["--data", "digits", "--image-size", "8", "--repeats", "1", "--no-dot", "--limit-train", "32",
                  "--limit-eval", "16", "--batch-size", "16", "--precise-bn-batches", "1"]


@settings(FUZZ, max_examples=18)
@given(st.integers(1, 2).flatmap(lambda n: command_line(
    (COMPARE_MODEL,) * n,
    {"--out": OUT_FOLDERS, "--data": pick(["digits"], ["missing-ds", "adir", "", "ünï"]), "--no-train": FLAG,
     "--image-size": ints([8, 16], ["0", "-1", "100000", "", "nan"]),
     "--threads": ints([1, 2], ["0", "-1", "10000", ""]), "--repeats": ints([1, 2], ["0", "-1", ""]),
     "--seed": ints([0, 3], ["-1", "4294967296", "nan"]), "--lr": floats([0.01]),
     "--optimizer": pick(["sgd", "adamw"], ["x", ""]), "--precise-bn-batches": ints([0, 2]),
     "--limit-eval": ints([16], ["0", "-1"]), "--limit-val": ints([8], ["0", "-1"]),
     "--epochs": ints([1], ["0", "-1", "abc"]), "--batch-size": ints([16], ["0", "-1", "x"])},
    always=("--out",))))
@example(["randwire_tiny", "--out", "FRESH", "--no-train"])
def test_compare(args):
    _case("compare", ["compare", *COMPARE_BUDGET], args)


@settings(FUZZ, max_examples=5)
@given(command_line((), {"--out": OUT_FOLDERS,
                         "--models": pick(["randwire_tiny"], ["", ",", "resnet81", "randwire_tiny,randwire_tiny"]),
                         "--data": pick(["digits"], ["missing-ds", ""]), "--epochs": ints([1], ["0", "-1", "x"]),
                         "--limit-train": ints([32], ["0", "-1"]), "--limit-eval": ints([16], ["0", "-1"])},
                    always=("--out",)))
@example(["--out", "FRESH"])
def test_demo(args):
    _case("demo", ["demo", "--skip-tour", "--models", "randwire_tiny", "--data", "digits", "--limit-train", "32",
                   "--limit-eval", "16"], args)


# ---------------------------------------------------------------- search, search-report

# Children at least 16 channels wide: oneDNN 3.12's strided 1x1 convolution in channels_last writes past its
# workspace in backward when the input has fewer channels than its block (8 with AVX2, 16 with AVX-512;
# uxlfoundation/oneDNN#6035), which corrupts the heap of the whole test process.
SEARCH_C = "16"


@settings(FUZZ, max_examples=40)
@given(command_line((), {
    "--out": pick(["FRESH", "search", "badstate"], ["afile", "afile/sub", "", "/dev/null/x"]),
    "--data": pick(["toy", "digits"], ["missing-ds", "", "ünï"]),
    "--space": pick(["nasnet", "randwire", "micro"], ["x", "", "NASNET"]),
    "--strategy": pick(["random", "reinforce", "evolution"], ["annealing", "", "x"]),
    "--trials": ints([1, 2], ["0", "-1", "", "abc"]),
    "--seed": ints([0, 5], ["-1", "4294967296", "99999999999999999999", "nan"]),
    "--blocks": ints([1, 2], ["0", "17", "1000", "-1"]), "--nodes": ints([2, 4], ["1", "0", "129"]),
    "--C": ints([16], ["0", "-1", "100000"]), "--N": ints([1], ["0", "-1", "1000"]),
    "--batch-size": ints([16], ["0", "-1"]), "--limit-train": ints([32], ["0", "-1"]),
    "--epochs-per-trial": ints([1], ["0", "-1"]), "--max-failures": ints([1, 5], ["0", "-1"]),
    "--heartbeat-s": ints([10], ["0", "-1"]), "--worker": pick(["0", "w1"], ["", "ünï/..", "a b"]),
    "--study": pick(["s1", "nasnet-random-toy"], ["", "ünï", "../x"]),
    "--storage": pick(["FRESH.log"], ["bogus://x", "", "postgresql://nobody@127.0.0.1:1/x"])},
    always=("--out", "--data")))
@example(["--out", "FRESH", "--data", "toy", "--trials", "2"])
@example(["--out", "badstate", "--data", "toy", "--trials", "2"])
def test_search(args):
    _case("search", ["search", "--no-progress", "--trials", "1", "--limit-train", "32", "--batch-size", "16", "--C", SEARCH_C],
          args)


STUDIES = pick(["nasnet-random-toy"], ["x", "", "ünï", "../x"])


@settings(FUZZ, max_examples=20)
@given(command_line((), {"--study": STUDIES, "--out": pick(["search", "FRESH"], ["afile", "adir", "", "missing/x"]),
                         "--storage": pick(["search/optuna-journal.log"], ["bogus://x", ""])},
                    always=("--study", "--out")),
       st.one_of(st.none(), STUDIES.valid, STUDIES.bad))
@example(["--study", "nasnet-random-toy", "--out", "search"], None)
def test_search_report(args, second_study):
    _case("search-report", ["search-report", *([] if second_study is None else ["--study", second_study])], args)


# ---------------------------------------------------------------- proxies, profile, explore, rf --effective

CSV_OUT = pick(["out/s.csv", "FRESH/s.csv", "ünï/s.csv"], ["adir", "afile/s.csv", "", ".", "/dev/null/s.csv", "s.txt"])


@settings(FUZZ, max_examples=20)
@given(command_line((), {
    "--space": pick(["nb201"], ["nasnet", "", "NB201", "ünï"]),
    "--proxy": pick(["params", "macs", "params,macs", "synflow", "naswot,params"],
                    ["", ",", "synflow,,params", "zico", "SYNFLOW", "params,params", "ünï"]),
    "--sample": ints([1, 2, 3], ["-1", "15626", "99999999999999999999", "abc", "", "nan"]),
    "--seed": ints([0, 7], ["-1", "4294967296", "99999999999999999999", "nan"]),
    "--out": CSV_OUT,
    "--dataset": pick(["cifar10", "cifar100", "imagenet16-120"], ["", "cifar", "CIFAR10", "imagenet", "ünï"]),
    "--data": pick(["digits"], ["missing-ds", "adir", "afile", "", "ünï", "photo.png"]),
    "--batch-size": ints([4, 8], ["0", "-1", "100000000000", "", "x"])},
    always=("--out",)))
@example(["--proxy", "synflow,naswot,params", "--sample", "2", "--data", "digits", "--out", "FRESH/s.csv"])
def test_proxies(args):
    _case("proxies", ["proxies", "--no-progress", "--sample", "2", "--proxy", "params,macs", "--batch-size", "8",
                      "--data", "digits"], args)


PROFILE_MODELS = pick(["tiny.py:Tiny", "randwire_tiny", "mobilenet_v1_025:num_classes=7"],
                      ["resnet81", "", ":", "resnet18:foo=1", "syntax.py:Net", "missing.py:Net", "tiny.py:Nope",
                       "os:path", "ünï"])


@settings(FUZZ, max_examples=15)
@given(command_line((PROFILE_MODELS,), {
    "--input": pick(["1x3x16x16", "1x3x8x8", "2x3x16x16"],
                    ["1x3x224", "", "0x3x8x8", "1x3x-1x2", "1x3x²x2", "1x3x100000x100000", "1x1x8x8", "x"]),
    "--backward": FLAG,
    "--out": pick(["out/p.md", "FRESH/p.json", "ünï/p.csv"], ["p.txt", "adir", "afile/p.md", "", ".", "/dev/null/p.md",
                                                             "p", "p.MD.x"]),
    "--plot": pick(["out/r.png", "FRESH/r.svg"], ["r.jpg", "adir", "afile/r.png", "", "/dev/null/r.png", "r"]),
    "--level": pick(["stage", "block", "unit"], ["", "STAGE", "layer", "ünï"]),
    "--unit": pick(["conv", "fc"], ["", "nope", "conv.weight", "..", "ünï", "0"]),
    "--repeats": ints([1, 2], ["0", "-1", "99999999999999999999", "", "x"]),
    "--warmup": ints([0, 1], ["-1", "99999999999999999999", "", "x"]),
    "--threads": ints([1], ["0", "-1", "100000", "", "x"]),
    "--method": pick(["inline", "isolated"], ["", "INLINE", "both", "ünï"])}))
@example(["tiny.py:Tiny", "--input", "1x3x8x8", "--out", "out/p.json", "--plot", "out/r.svg", "--level", "unit",
          "--unit", "conv", "--backward"])
def test_profile(args):
    _case("profile", ["profile", *args[:1], "--input", "1x3x16x16", "--repeats", "1", "--warmup", "0", "--threads",
                      "1"], args[1:])


@settings(FUZZ, max_examples=15)
@given(command_line((PROFILE_MODELS,), {
    "--input": pick(["1x3x16x16", "1x3x32x32"], ["1x3x224", "", "0x3x8x8", "1x3x²x2", "1x3x100000x100000", "1x1x8x8"]),
    "--image": IMAGES,
    "--checkpoint": pick(["run/checkpoint.pt", "run"], ["missing.pt", "junk.pt", "empty.pt", "adir", "", "afile"]),
    "--out": pick(["out/e.html", "FRESH/e.html", "ünï/e.html"], ["adir", "afile/e.html", "", ".", "/dev/null/e.html"])},
    always=("--out",)))
@example(["tiny.py:Tiny", "--input", "1x3x16x16", "--image", "photo.png", "--out", "FRESH/e.html"])
@example(["randwire_tiny", "--checkpoint", "run", "--input", "1x1x16x16", "--out", "FRESH/e.html"])
def test_explore(args):
    _case("explore", ["explore", *args[:1], "--input", "1x3x16x16"], args[1:])


@settings(FUZZ, max_examples=20)
@given(command_line((pick(["mobilenet_v1_025", "randwire_tiny", "tiny.py:Tiny"], ["resnet81", "", ":", "ünï"]),), {
    "--input": pick(["1x3x16x16", "1x1x32x32"], ["1x3x224", "", "0x3x8x8", "1x3x²x2", "1x3x100000x100000"]),
    "--checkpoint": pick(["run/checkpoint.pt", "run"], ["missing.pt", "junk.pt", "empty.pt", "statedict.pt", "adir", ""]),
    "--data": pick(["digits"], ["missing-ds", "adir", "afile", "", "ünï", "photo.png"]),
    "--images": ints([1, 2], ["0", "-1", "99999999999999999999", "", "x"]),
    "--units": pick(["stages", "conv"], ["", ",", "nope", "conv,,fc", "ünï", "STAGES"]),
    "--mode": pick(["eval", "train"], ["", "EVAL", "test", "ünï"]),
    "--seed": ints([0, 3], ["-1", "4294967296", "nan"]),
    "--out": pick(["out/erf.png", "FRESH/erf.png", "ünï/erf.png"],
                  ["adir", "afile/x.png", "", ".", "/dev/null/x.png", "afile"])}))
@example(["randwire_tiny", "--checkpoint", "run", "--data", "digits", "--images", "2", "--out", "FRESH/erf.png"])
def test_rf_effective(args):
    _case("rf --effective", ["rf", "--effective", *args[:1], "--data", "digits", "--images", "2"], args[1:])


# ---------------------------------------------------------------- new options of search, train, compare


@settings(FUZZ, max_examples=25)
@given(command_line((), {
    "--out": pick(["FRESH"], ["afile", "", "/dev/null/x"]),
    "--space": pick(["nasnet", "nb201"], ["x", ""]),
    "--data": pick(["toy", "nb201:cifar10"], ["nb201:", "nb201:cifar", "nb201:ünï", "nb201", "", "NB201:cifar10"]),
    "--noise": floats([0.0, 1.5]),
    "--objective": pick(["accuracy", "accuracy,macs", "accuracy,params", "accuracy,latency"],
                        ["", ",", "macs", "accuracy,accuracy", "accuracy,", "accuracy,flops", "ünï"]),
    "--max-macs": floats([1e9, 1e12]), "--max-params": floats([1e7, 1e9]), "--max-latency-ms": floats([1e4]),
    "--pruner": pick(["none", "sha", "hyperband"], ["", "median", "SHA", "ünï"]),
    "--prefilter": pick(["params:2", "synflow:2"], ["", ":", "synflow", "synflow:0", "synflow:-1", "zico:2",
                                                   "synflow:x", "synflow:99999999999999999999", ":2"]),
    "--strategy": pick(["random", "evolution", "local", "tpe"], ["oneshot", "annealing", ""])},
    always=("--out", "--data")))
@example(["--out", "FRESH", "--space", "nb201", "--data", "nb201:cifar10", "--noise", "1.5", "--strategy", "local"])
@example(["--out", "FRESH", "--space", "nb201", "--data", "nb201:cifar10", "--objective", "accuracy,params"])
@example(["--out", "FRESH", "--data", "toy", "--max-macs", "1", "--pruner", "sha"])
@example(["--out", "FRESH", "--space", "nasnet", "--data", "nb201:cifar10"])
@example(["--out", "FRESH", "--space", "nb201", "--data", "toy", "--strategy", "oneshot", "--supernet-epochs", "0"])
@example(["--out", "FRESH", "--space", "nasnet", "--data", "toy", "--strategy", "oneshot"])
@example(["--out", "FRESH", "--space", "nb201", "--data", "nb201:cifar10", "--strategy", "oneshot",
          "--supernet-epochs", "-1"])
def test_search_new_options(args):
    _case("search (new options)", ["search", "--no-progress", "--trials", "1", "--limit-train", "32", "--batch-size",
                                   "16", "--C", SEARCH_C], args)


@settings(FUZZ, max_examples=6)
@given(command_line((), {"--recipe": pick(["fast"], ["", "slow", "FAST", "ünï", "converged:x"]),
                         "--epochs": ints([1], ["0", "-1", "x"]), "--batch-size": ints([16], ["0", "-1", "x"]),
                         "--out": OUT_FOLDERS},
                    always=("--recipe", "--out")))
@example(["--recipe", "fast", "--out", "FRESH"])
@example(["--recipe", "nope", "--out", "FRESH"])
def test_train_recipe(args):
    _case("train --recipe", ["train", "randwire_tiny", *TRAIN_BUDGET], args)


@settings(FUZZ, max_examples=8)
@given(command_line((COMPARE_MODEL,), {
    "--budget": pick(["demo", "converged"], ["", "CONVERGED", "long", "ünï"]),
    "--recipe": pick(["fast", "converged"], ["", "slow", "ünï"]),
    "--seeds": ints([1], ["0", "-1", "99999999999999999999", "x"]),
    "--epochs": ints([1], ["0", "-1", "x"]),
    "--no-train": FLAG, "--out": OUT_FOLDERS},
    always=("--budget", "--out")).filter(lambda a: "--no-train" in a or "converged" not in a[a.index("--budget") + 1]))
@example(["randwire_tiny", "--budget", "converged", "--no-train", "--out", "FRESH"])
@example(["randwire_tiny", "--budget", "nope", "--out", "FRESH"])
def test_compare_budget(args):
    _case("compare --budget", ["compare", *COMPARE_BUDGET], args)


def test_the_fuzz_ran_at_least_500_cases():
    commands = {"arith conv", "arith rf", "arith cost", "list", "show", "table", "rf", "export", "train", "compare",
                "demo", "search", "search-report", "proxies", "profile", "explore", "rf --effective",
                "search (new options)", "train --recipe", "compare --budget"}
    if not commands <= set(CASES):
        pytest.skip(f"only part of the fuzz ran: {sorted(CASES)}")
    assert sum(CASES.values()) >= MIN_CASES, CASES


# ---------------------------------------------------------------- read-only and full file systems


def _mount_tmpfs(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture(scope="module")
def tiny_file_systems(tmp_path_factory, workdir):
    """(full, read_only): two 64 KiB tmpfs mounts, the first filled up, the second read-only with a search
    folder on it (for search-report). Root only; skipped elsewhere."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    base = tmp_path_factory.mktemp("mounts")
    full, read_only = base / "full", base / "ro"
    mounted = [p for p in (full, read_only) if _mount_tmpfs(p)]
    try:
        if len(mounted) < 2:
            pytest.skip("tmpfs cannot be mounted here")
        try:
            with open(full / "filler", "wb") as handle:
                while True:
                    handle.write(b"\0" * 4096)
                    handle.flush()
        except OSError:  # the disk is full
            pass
        made = runner.invoke(app, ["search", "--data", "toy", "--trials", "1", "--no-progress",
                                   "--out", str(read_only / "search")])
        assert made.exit_code == 0, made.output
        subprocess.run(["mount", "-o", "remount,ro", str(read_only)], check=True)
        yield full, read_only
    finally:
        for path in mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _writing_commands(folder: Path) -> dict[str, list[str]]:
    return {
        "train": ["train", "randwire_tiny", *TRAIN_BUDGET, "--out", str(folder / "run")],
        "compare": ["compare", "randwire_tiny", "--no-train", "--data", "digits", "--image-size", "8", "--repeats",
                    "1", "--no-dot", "--out", str(folder / "cmp")],
        "demo": ["demo", "--skip-tour", "--models", "randwire_tiny", "--data", "digits", "--limit-train", "32",
                 "--limit-eval", "16", "--out", str(folder / "demo")],
        "search": ["search", "--data", "toy", "--trials", "1", "--no-progress", "--out", str(folder / "s")],
        "search-report": ["search-report", "--study", "nasnet-random-toy", "--out", str(folder / "search")],
        "rf": ["rf", "resnet18", "--input", "1x3x32x32", "--image", "photo.png", "--out", str(folder / "rf.png")],
        "export": ["export", "mobilenet_v1_025", "--input", "1x3x32x32", "--opset", "17",
                   "--onnx", str(folder / "m.onnx")],
        "profile --out": ["profile", "tiny.py:Tiny", "--input", "1x3x8x8", "--repeats", "1", "--warmup", "0",
                          "--out", str(folder / "p.md")],
        "profile --plot": ["profile", "tiny.py:Tiny", "--input", "1x3x8x8", "--repeats", "1", "--warmup", "0",
                           "--plot", str(folder / "r.png")],
        "explore": ["explore", "tiny.py:Tiny", "--input", "1x3x16x16", "--out", str(folder / "e.html")],
        "proxies": ["proxies", "--no-progress", "--sample", "2", "--proxy", "params,macs",
                    "--out", str(folder / "s.csv")],
        "rf --effective": ["rf", "--effective", "tiny.py:Tiny", "--input", "1x3x16x16", "--data", "digits",
                           "--images", "2", "--out", str(folder / "erf.png")],
    }


@pytest.mark.parametrize("which", ["full", "read-only"])
@pytest.mark.parametrize("command", list(_writing_commands(Path("x"))))
def test_a_full_or_read_only_file_system_is_one_error_line(request, tiny_file_systems, which, command):
    full, read_only = tiny_file_systems
    known: dict[tuple[str, str], str] = {}  # (command, which) -> why it fails, while it does
    if (command, which) in known:  # strict: once fixed, the mark must go
        request.applymarker(pytest.mark.xfail(reason=known[command, which], strict=True))
    folder = full if which == "full" else read_only
    result = run_cli(f"{command} on a {which} disk", _writing_commands(folder)[command])
    assert result.exit_code == 2 and str(folder) in result.stderr, result.stderr
