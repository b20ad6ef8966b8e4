"""cnnlab.profile: bytes by the hand formula, the roofline's arithmetic, rows = inspect's rows, roll-ups,
the bytes table a user extends, and bad input as ConfigError. The timing check is in test_profile_timing.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab.analysis.profile import Machine, measure_machine, profile, register_bytes_rule
from cnnlab.analysis.profile.result import cost_of
from cnnlab.analysis.profile.traffic import _BYTES_RULES, bytes_moved
from cnnlab.analysis.rules import Call

# A fixed machine, so that these tests measure nothing: 100 GFLOP/s peak, 10 GB/s, ridge at 10 FLOP/B.
MACHINE = Machine(peak_flops=100e9, bandwidth_bytes_per_s=10e9, threads=1)
FAST = {"repeats": 1, "warmup": 0, "threads": 1, "machine": MACHINE}

# Convolution bytes by hand, float32 (4 bytes):
#   input N*C_in*H*W*4 + output N*C_out*H_out*W_out*4 + weight C_out*(C_in/groups)*k*k*4 + bias C_out*4
CONV_BYTES = [
    # (C_in, C_out, k, stride, padding, groups, bias, input NxCxHxW, bytes)
    (3, 16, 3, 1, 1, 1, True, (1, 3, 32, 32), 12288 + 65536 + 1728 + 64),  # 79,616
    (16, 32, 3, 2, 1, 1, False, (2, 16, 32, 32), 131072 + 65536 + 18432),  # out 2x32x16x16; 215,040
    (32, 32, 3, 1, 1, 32, False, (1, 32, 16, 16), 32768 + 32768 + 1152),  # depthwise; 66,688
    (32, 64, 1, 1, 0, 1, True, (1, 32, 16, 16), 32768 + 65536 + 8192 + 256),  # pointwise; 106,752
    (8, 8, 5, 1, 0, 2, True, (1, 8, 20, 20), 12800 + 8192 + 3200 + 32),  # grouped, 16x16 out; 24,224
]


@pytest.mark.parametrize("c_in, c_out, k, stride, padding, groups, bias, size, expected", CONV_BYTES)
def test_a_convolution_moves_the_hand_formula_bytes(c_in, c_out, k, stride, padding, groups, bias, size, expected):
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, groups=groups, bias=bias)
    (unit,) = profile(conv, size, **FAST).units
    assert unit.bytes == expected
    assert unit.macs == cnnlab.inspect(conv, size).macs
    assert unit.intensity == pytest.approx(unit.flops / expected)


def test_dtype_size_counts_and_memory_layout_does_not():
    conv = nn.Conv2d(3, 16, 3, padding=1)
    single = profile(conv, (1, 3, 32, 32), **FAST).units[0].bytes
    double = profile(conv.double(), (1, 3, 32, 32), dtype=torch.float64, **FAST).units[0].bytes
    assert (single, double) == (79616, 2 * 79616)
    x = torch.randn(1, 3, 32, 32)
    conv = conv.float()
    contiguous = bytes_moved("conv", Call(nn.Conv2d, (x,), module=conv, output=conv(x)))
    xl = x.to(memory_format=torch.channels_last)
    channels_last = bytes_moved("conv", Call(nn.Conv2d, (xl,), module=conv, output=conv(xl)))
    assert contiguous == channels_last == 79616


def test_intensity_attainable_and_share_on_a_literal_example():
    # 1,000 MACs -> 2,000 FLOPs over 400 bytes: 5 FLOP/B, below the ridge (10): 5 * 10 GB/s = 50 GFLOP/s
    # attainable; 2,000 FLOPs in 1 µs is 2 GFLOP/s achieved, 4 % of attainable
    low = cost_of(1000, 2000, 400, 1e-6, MACHINE)
    assert (low["intensity"], low["attainable_flops"], low["achieved_flops"]) == (5.0, 50e9, 2e9)
    assert low["share"] == pytest.approx(0.04) and low["bound"] == "memory"
    # 4,000 FLOPs over 100 bytes: 40 FLOP/B, above the ridge: the 100 GFLOP/s peak; 4,000 FLOPs in 0.1 µs is 40
    high = cost_of(2000, 4000, 100, 1e-7, MACHINE)
    assert (high["intensity"], high["attainable_flops"]) == (40.0, 100e9)
    assert high["share"] == pytest.approx(0.4) and high["bound"] == "compute"
    assert MACHINE.ridge_intensity == 10.0 and MACHINE.attainable_flops(10.0) == 100e9


class Small(nn.Module):
    """Every plotted kind: conv, bn, elementwise, depthwise, pointwise, pool, linear; a residual add."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU6(), nn.Conv2d(16, 16, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.block(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def test_rows_are_inspects_rows_with_their_kind_stage_and_block():
    model = Small()
    p = profile(model, (1, 3, 16, 16), **FAST)
    report = cnnlab.inspect(model, (1, 3, 16, 16))
    assert [(u.path, u.macs, u.flops) for u in p.units] == [(r.path, r.macs, r.flops) for r in report.rows]
    assert {u.path: u.plot_kind for u in p.units} == {
        "stem.0": "conv", "stem.1": "bn", "stem.2": "elementwise", "block.0": "depthwise conv",
        "block.1": "elementwise", "block.2": "pointwise", "add": "elementwise", "pool": "pool", "fc": "linear"}
    assert [(s.name, s.units) for s in p.stages] == [("stem", 3), ("block", 3), ("add", 1), ("pool", 1), ("fc", 1)]
    for groups in (p.stages, p.blocks):
        assert sum(g.latency_s for g in groups) == pytest.approx(p.units_latency_s)
        assert sum(g.bytes for g in groups) == p.bytes and sum(g.macs for g in groups) == p.macs == report.macs
    # the residual add reads two 1x16x16x16 maps and writes one: 3 * 16,384 bytes
    assert p.unit("add")[0].bytes == 3 * 16 * 16 * 16 * 4


def test_backward_counts_inspects_training_macs_and_the_gradients_bytes():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, bias=False))
    p = profile(conv, (1, 3, 8, 8), backward=True, **FAST)
    assert p.method == "isolated" and p.macs == cnnlab.inspect(conv, (1, 3, 8, 8)).train_macs
    # second conv: forward 2048 in + 2048 out + 2304 weight = 6,400; backward reads them again and writes
    # the input's gradient (2048) and the weight's (2304): 6,400 + 6,400 + 2,048 + 2,304
    assert p.units[1].bytes == 6400 + 6400 + 2048 + 2304
    # the first conv's input is the image, which needs no gradient: only its weight's (864 + 32)
    assert p.units[0].bytes == 2 * (768 + 2048 + 864 + 32) + 864 + 32


def test_the_model_is_not_touched():
    model = Small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    profile(model, (2, 3, 8, 8), backward=True, **FAST)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_registered_bytes_rule_replaces_the_kinds_formula():
    saved = dict(_BYTES_RULES)
    try:
        register_bytes_rule("norm", lambda call: 7)
        p = profile(Small(), (1, 3, 8, 8), **FAST)
        assert p.unit("stem.1")[0].bytes == 7 and p.unit("stem.0")[0].bytes > 7
        register_bytes_rule("act", lambda call: -1)
        with pytest.raises(cnnlab.ConfigError, match="'act'.*stem.2"):
            profile(Small(), (1, 3, 8, 8), **FAST)
    finally:
        _BYTES_RULES.clear()
        _BYTES_RULES.update(saved)
    for kind, rule in [("", len), ("conv", 3)]:
        with pytest.raises(cnnlab.ConfigError, match="register_bytes_rule"):
            register_bytes_rule(kind, rule)


def test_bad_input_is_a_config_error_naming_it():
    p = profile(Small(), (1, 3, 8, 8), **FAST)
    with pytest.raises(cnnlab.ConfigError, match="'block.7'"):
        p.unit("block.7")
    cases = [
        (lambda: profile("resnet18", (1, 3, 8, 8), **FAST), "nn.Module"),
        (lambda: profile(Small(), "1x3xbig", **FAST), "input_size"),
        (lambda: profile(Small(), (1, 5, 8, 8), **FAST), "expects 3 input channels"),
        (lambda: profile(Small(), (1, 3, 8, 8), method="hooks", **{**FAST}), "method"),
        (lambda: profile(Small(), (1, 3, 8, 8), repeats=0, machine=MACHINE), "repeats"),
        (lambda: profile(Small(), (1, 3, 8, 8), machine="fast", repeats=1), "Machine"),
    ]
    with torch.device("meta"):
        meta = Small()
    cases.append((lambda: profile(meta, (1, 3, 8, 8), **FAST), "meta device"))
    for run, message in cases:
        with pytest.raises(cnnlab.ConfigError, match=message):
            run()
    with pytest.raises(cnnlab.ConfigError, match="peak_flops"):
        Machine(0.0, 1e9, 1)


def test_roofline_png_and_svg(tmp_path):
    from cnnlab.analysis.profile import draw_roofline

    p = profile(Small(), (1, 3, 16, 16), **FAST)
    assert draw_roofline(p, tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in draw_roofline(p, tmp_path / "r.svg").read_bytes()[:1000]
    for bad, message in [(tmp_path / "r.jpg", "png or .svg"), (tmp_path, "png or .svg")]:
        with pytest.raises(cnnlab.ConfigError, match=message):
            draw_roofline(p, bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(cnnlab.ConfigError, match="cannot write the roofline"):
        draw_roofline(p, tmp_path / "file" / "r.png")


def test_renderings_carry_every_unit():
    import csv
    import io
    import json

    p = profile(Small(), (1, 3, 16, 16), **FAST)
    data = json.loads(p.to_json())
    assert [u["path"] for u in data["units"]] == [u.path for u in p.units]
    assert data["machine"]["ridge_intensity"] == 10.0 and math.isclose(data["sum_ratio"], p.sum_ratio)
    rows = list(csv.DictReader(io.StringIO(p.to_csv())))
    assert [r["path"] for r in rows if r["level"] == "unit"] == [u.path for u in p.units]
    assert {r["level"] for r in rows} == {"unit", "block", "stage"}
    md = p.to_markdown()
    assert all(f"| {u.path} |" in md for u in p.units) and "## By block" in md
    assert any("depthwise conv" in line for line in p.where_time_goes())


def test_measure_machine_gives_both_roofs():
    m = measure_machine(threads=1, repeats=1, warmup=0, gemm_sizes=(128,), stream_elements=1 << 18)
    assert m.peak_flops > 1e6 and m.bandwidth_bytes_per_s > 1e6 and m.threads == 1 and "torch.mm" in m.how
    with pytest.raises(cnnlab.ConfigError, match="gemm size"):
        measure_machine(gemm_sizes=(0,))


def test_exported_at_the_top():
    assert cnnlab.profile is profile
