"""Upsampling: the lecture's 2x2 example, torch's interpolate, and FCN's bilinear transposed conv."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnlab import ConfigError
from cnnlab.units import LearnedUpsample, Upsample, bilinear_kernel, upsample

LECTURE_INPUT = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])


def test_lecture_nearest_example():
    expected = torch.tensor([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], dtype=torch.float32)
    torch.testing.assert_close(upsample(LECTURE_INPUT, scale_factor=2)[0, 0], expected)
    torch.testing.assert_close(Upsample(scale_factor=2)(LECTURE_INPUT)[0, 0], expected)


def test_lecture_bilinear_example():
    # lecture's table, with its typo at row 2, column 3 corrected (2.00 -> 2.25); output is 4x4, not 2x2
    expected = torch.tensor([
        [1.00, 1.25, 1.75, 2.00],
        [1.50, 1.75, 2.25, 2.50],
        [2.50, 2.75, 3.25, 3.50],
        [3.00, 3.25, 3.75, 4.00],
    ])
    ours = upsample(LECTURE_INPUT, scale_factor=2, mode="bilinear")
    torch.testing.assert_close(ours[0, 0], expected)
    torch.testing.assert_close(ours, F.interpolate(LECTURE_INPUT, scale_factor=2, mode="bilinear", align_corners=False))
    torch.testing.assert_close(Upsample(scale_factor=2, mode="bilinear")(LECTURE_INPUT)[0, 0], expected)


def test_align_corners_true_is_passed_through():
    x = torch.randn(1, 2, 3, 5)
    expected = F.interpolate(x, size=(6, 9), mode="bilinear", align_corners=True)
    torch.testing.assert_close(Upsample(size=(6, 9), mode="bilinear", align_corners=True)(x), expected)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_learned_upsample_output_size_and_bilinear_interior(factor):
    channels, n = 3, 7
    x = torch.randn(2, channels, n, n + 2)
    layer = LearnedUpsample(channels, factor=factor)
    with torch.no_grad():
        y = layer(x)
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert y.shape == reference.shape == (2, channels, factor * n, factor * (n + 2))
    border = factor  # the transposed conv zero-pads where interpolate clamps to the edge
    torch.testing.assert_close(y[..., border:-border, border:-border], reference[..., border:-border, border:-border])


def test_learned_upsample_bilinear_init_with_groups_and_default_init():
    x = torch.randn(1, 4, 5, 5)
    grouped = LearnedUpsample(4, factor=2, groups=4)
    torch.testing.assert_close(grouped(x)[..., 2:-2, 2:-2], LearnedUpsample(4, factor=2)(x)[..., 2:-2, 2:-2])
    plain = LearnedUpsample(4, 8, factor=2, init="default", bias=True)
    assert plain(x).shape == (1, 8, 10, 10) and plain.bias is not None


def test_bilinear_kernel_is_fcn_upsample_filt():
    # FCN (shelhamer/fcn.berkeleyvision.org, surgery.upsample_filt): 1 - |og - center| / factor
    taps_4 = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(bilinear_kernel(4), torch.outer(taps_4, taps_4))
    taps_3 = torch.tensor([0.5, 1.0, 0.5])
    torch.testing.assert_close(bilinear_kernel(3), torch.outer(taps_3, taps_3))


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: Upsample(scale_factor=2, mode="bicubic"), "Upsample.*mode must be one of"),
        (lambda: Upsample(scale_factor=2, align_corners=True), "align_corners=True has no meaning"),
        (lambda: Upsample(scale_factor=2, mode="bilinear", align_corners=None), "align_corners must be"),
        (lambda: Upsample(), "exactly one of scale_factor and size"),
        (lambda: Upsample(scale_factor=2, size=4), "exactly one of scale_factor and size"),
        (lambda: Upsample(scale_factor=0), r"scale_factor must be a number in \(0, ∞\), got 0"),
        (lambda: Upsample(size=(4, 0)), "size must be"),
        (lambda: upsample(LECTURE_INPUT, scale_factor=2, mode="area"), "upsample.*mode"),
        (lambda: LearnedUpsample(4, 8), "init='bilinear' needs out_channels == in_channels"),
        (lambda: LearnedUpsample(4, factor=0), "LearnedUpsample.*factor"),
        (lambda: LearnedUpsample(6, groups=4), "in_channels=6 is not divisible by groups=4"),
        (lambda: LearnedUpsample(4, init="xavier"), "init must be one of"),
    ],
)
def test_bad_hyper_parameters(build, named):
    with pytest.raises(ConfigError, match=named):
        build()
