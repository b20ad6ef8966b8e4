"""Shape validation shared by inspect, the receptive-field probe and ONNX export."""

from __future__ import annotations

import pytest

from cnnlab.arith.checks import require_shape
from cnnlab.errors import ConfigError


def test_a_shape_from_a_sequence_or_text():
    assert require_shape("input", (1, 3, 224, 224)) == (1, 3, 224, 224)
    assert require_shape("input", " 2X3x32x32 ") == (2, 3, 32, 32)
    assert require_shape("input", [7]) == (7,)


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        ("1x3xfoo", {}, "input must look like 1x3x224x224.*'1x3xfoo'"),
        ([], {}, "at least 1 dimension.*\\[\\]"),
        ((1, 0, 4), {}, "input\\[1\\] must be ≥ 1, got 0"),
        ((1, 2.5), {}, "input\\[1\\] must be an integer, got 2.5"),
        ((8,), {"min_dims": 2}, "at least 2 dimension.*\\(8,\\)"),
        ("1x3x4x4", {"text": False}, "must be a shape.*'1x3x4x4'"),
    ],
)
def test_a_bad_shape_names_the_value(value, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        require_shape("input", value, **kwargs)
