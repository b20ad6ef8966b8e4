"""The text form of a layer chain."""

from __future__ import annotations

import pytest

from cnnlab import ConfigError, arith


def test_parse_the_issue_example():
    layers = arith.parse_layers("conv k3 s2 p1, pool k2 s2, conv k3 d2")
    assert layers == [
        arith.Layer(k=3, s=2, p=1, name="conv1"),
        arith.Layer(k=2, s=2, kind="pool", name="pool2"),
        arith.Layer(k=3, d=2, name="conv3"),
    ]


def test_parse_all_options():
    deconv, up, pool, rect = arith.parse_layers("tconv k=4 s2 p1 op1, up s2 bilinear, maxpool k3 ceil, conv k3x1 p1x0")
    assert (deconv.kind, deconv.k, deconv.s, deconv.p, deconv.output_padding) == ("deconv", 4, 2, 1, 1)
    assert (up.kind, up.s, up.mode) == ("upsample", 2, "bilinear")
    assert (pool.kind, pool.k, pool.s, pool.ceil_mode) == ("pool", 3, 3, True)  # stride defaults to kernel
    assert (rect.k, rect.p) == ((3, 1), (1, 0))


def test_format_round_trips():
    spec = "conv k3 s2 p1, pool k2 s2 p0, deconv k4 s2 p1 op1, up s2 bilinear, conv k3x1 s1 p1x0 d2"
    layers = arith.parse_layers(spec)
    assert ", ".join(arith.format_layer(layer) for layer in layers) == spec
    assert arith.parse_layers(", ".join(arith.format_layer(layer) for layer in layers)) == layers


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("conv k3 q2", "'q2'"),
        ("dense k3", "'dense'"),
        ("conv k3,, conv k3", "layer 2"),
        ("conv ceil", "'ceil'"),
        ("pool bilinear", "'bilinear'"),
        ("conv k0", "k must be"),
        ("", "expected a layer list"),
        ("conv kx", "'kx'"),
    ],
)
def test_bad_specs_name_the_token(spec, named):
    with pytest.raises(ConfigError, match=named):
        arith.parse_layers(spec)
