"""Receptive field: published numbers, the lecture's example, and the gradient-based empirical RF."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import cnnlab
from cnnlab.analysis import empirical_receptive_field, inspect
from cnnlab.analysis.empirical import gradient_boxes

# r at the last spatial map, jump 32 (Araujo et al., Distill 2019 "Computing Receptive Fields of CNNs",
# Table 1 / google-research/receptive_field README: resnet_v1_50 483, vgg_16 212, mobilenet_v1 315,
# mobilenet_v2 491; ResNet-50 v1.5 (stride in the 3x3) 427 and ResNet-18 435 by the same recurrence)
PUBLISHED_RF = {"resnet50": 427, "resnet50_v1": 483, "resnet18": 435, "vgg16": 212,
                "mobilenet_v1": 315, "mobilenet_v2": 491}


@pytest.mark.parametrize("name", sorted(PUBLISHED_RF))
def test_zoo_receptive_fields_match_published(name):
    with torch.device("meta"):
        model = cnnlab.create_model(name)
    rf = inspect(model, (1, 3, 224, 224)).receptive_field
    assert rf.size == (PUBLISHED_RF[name], PUBLISHED_RF[name])
    assert rf.jump == (32, 32)


def test_lecture_two_conv_example():
    # lecture, "Layers [Convolution] [Receptive field]": n0=5, two 3x3 convs, p=1, s=2 -> r=7, j=4, start=0.5
    model = nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1))
    r = inspect(model, (1, 1, 5, 5))
    assert r.rows[-1].output_shape == (1, 1, 2, 2)
    assert (r.receptive_field.size, r.receptive_field.jump, r.receptive_field.start) == ((7, 7), (4, 4), (0.5, 0.5))
    assert r.rows[0].rf_size == (3, 3) and r.rows[0].rf_jump == (2, 2)


class Branched(nn.Module):
    """Two branches (different kernels / dilations) merged by add or concat, then a strided conv."""

    def __init__(self, k1: int, d1: int, k2: int, d2: int, s: int, merge: str) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 2, k1, padding=d1 * (k1 - 1) // 2, dilation=d1)
        self.b = nn.Sequential(nn.Conv2d(2, 2, k2, padding=d2 * (k2 - 1) // 2, dilation=d2), nn.ReLU())
        self.merge = merge
        self.post = nn.Conv2d(4 if merge == "cat" else 2, 2, 3, stride=s, padding=1)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        y = torch.cat([a, b], 1) if self.merge == "cat" else a + b
        return self.post(y)


@settings(max_examples=20)
@given(k1=st.sampled_from([1, 3, 5]), d1=st.integers(1, 3), k2=st.sampled_from([1, 3, 5]), d2=st.integers(1, 3),
       s=st.integers(1, 2), merge=st.sampled_from(["add", "cat"]), depth=st.integers(1, 3))
def test_branched_dilated_stacks_match_empirical(k1, d1, k2, d2, s, merge, depth):
    model = nn.Sequential(*[Branched(k1, d1, k2, d2, s, merge) for _ in range(depth)])
    r_first = inspect(model, (1, 2, 32, 32)).receptive_field.size[0]
    size = 8 * int(r_first // 4 + 4)  # room for the whole field around the centre unit
    r = inspect(model, (1, 2, size, size))
    assert not r.warnings
    rf = r.receptive_field
    emp = empirical_receptive_field(model, (1, 2, size, size))
    assert rf.size[0] < size // 2  # far from the border: the gradient box is not clipped
    assert emp.size == (rf.size[0], rf.size[1])
    i, j = emp.unit
    assert emp.centre == (rf.start[0] + i * rf.jump[0], rf.start[1] + j * rf.jump[1])


def test_transposed_conv_and_upsample_units_match_gradients_one_by_one():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1),
                          nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1), nn.Upsample(scale_factor=2, mode="bilinear"))
    rf = inspect(model, (1, 1, 64, 64)).receptive_field
    assert rf.jump == (1, 1)
    units = [(u, u) for u in range(28, 36)]  # two whole periods of the 4-unit pattern, away from the border
    assert rf.period == (4, 4)
    for unit, oracle in zip(units, gradient_boxes(model, (1, 1, 64, 64), units), strict=True):
        assert rf.box(unit) == oracle == rf.image_box(unit)
    widths = {hi - lo + 1 for lo, hi in (rf.box(u)[0] for u in units)}
    assert (min(widths), max(widths)) == (rf.size_min[0], rf.size[0])


@pytest.mark.parametrize(("mode", "factor"), [("nearest", 2), ("nearest", 3), ("bilinear", 2), ("bicubic", 2)])
def test_upsample_r_and_r_min_are_the_widest_and_narrowest_unit(mode, factor):
    # r counts the input pixels that influence a unit (lecture: "the region ... a feature is affected by")
    model = nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Upsample(scale_factor=factor, mode=mode))
    rf = inspect(model, (1, 1, 48, 48)).receptive_field
    units = [(u, u) for u in range(24, 24 + 2 * factor)]  # two periods, far from the border
    widths = {box[0][1] - box[0][0] + 1 for box in gradient_boxes(model, (1, 1, 48, 48), units)}
    assert (min(widths), max(widths)) == (rf.size_min[0], rf.size[0])


def test_shifted_branches_merge_unit_by_unit():
    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 1, 3, padding=1)
            self.b = nn.Conv2d(1, 1, 3, padding=0)
            self.pad = nn.ZeroPad2d((2, 0, 2, 0))  # shifts the second branch by one pixel

        def forward(self, x):
            return self.a(x) + self.pad(self.b(x))

    model = Shifted()
    rf = inspect(model, (1, 1, 16, 16)).receptive_field
    assert rf.size == (4, 4) and rf.start == (0, 0)  # a unit sees its 3x3 window and the one a pixel up-left
    units = [(u, u) for u in range(16)]
    for unit, oracle in zip(units, gradient_boxes(model, (1, 1, 16, 16), units), strict=True):
        assert rf.image_box(unit) == oracle


def test_global_pooling_ends_spatial_extent():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    r = inspect(model, (1, 3, 8, 8))
    assert r.receptive_field.layer == "0" and r.receptive_field.size == (3, 3)
    assert r.rows[1].rf_size is None
