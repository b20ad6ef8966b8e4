"""The gradient oracle (cnnlab.analysis.empirical) on cases whose boxes are computed by hand."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from cnnlab.analysis.empirical import Linearised, empirical_receptive_field, gradient_boxes, positive_copy
from cnnlab.errors import ConfigError


def _diagonal(n: int, size: tuple[int, int]) -> list[tuple[int, int]]:
    return [(k % size[0], k % size[1]) for k in range(n)]


def test_single_conv_boxes_are_the_kernel_window_clipped_to_the_image():
    # Conv2d k=(3, 5), padding (1, 0), on 7 x 9: out 7 x 5; unit (i, j) reads rows i-1..i+1, columns j..j+4
    model = nn.Conv2d(2, 3, (3, 5), padding=(1, 0))
    units = [(0, 0), (3, 2), (6, 4)]
    assert gradient_boxes(model, (1, 2, 7, 9), units) == [((0, 1), (0, 4)), ((2, 4), (2, 6)), ((5, 6), (4, 8))]


def test_stride_two_then_dilated_conv():
    # conv k3 s2 p1 (n=21 -> 11; position i reads pixels 2i-1..2i+1), then conv k3 d2 p2: unit u reads
    # positions u-2, u, u+2 of the 11, so pixels 2u-5..2u+5 where those positions exist (r = 11)
    model = nn.Sequential(nn.Conv1d(1, 2, 3, 2, 1), nn.Conv1d(2, 1, 3, 1, 2, dilation=2))
    expected = [(0, 5), (1, 7), (0, 9), (1, 11), (3, 13), (5, 15), (7, 17), (9, 19), (11, 20), (13, 19), (15, 20)]
    # units 0, 1: position -2 / -1 is padding; 9: position 11 is padding, so 13..15 and 17..19 only
    assert gradient_boxes(model, (1, 1, 21), list(range(11))) == [(b,) for b in expected]


def test_bilinear_upsample_units_see_different_extents():
    # x2, align_corners=False: unit o reads src = (o + 1/2)/2 - 1/2 clamped at 0, i.e. floor(src) and the
    # next pixel; at o = 0 the clamp gives weight 0 to the second tap, at o = 9 both taps are pixel 4
    up2 = gradient_boxes(nn.Upsample(scale_factor=2, mode="bilinear"), (1, 1, 5, 3), _diagonal(10, (10, 6)))
    assert [b[0] for b in up2] == [(0, 0), (0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3), (3, 4), (3, 4), (4, 4)]
    # x3 after a 3-tap conv: src = (o + 1/2)/3 - 1/2 is an integer at o = 3m + 1 (one tap: r = 3), else two
    # taps (r = 4); o = 0 is clamped to pixel 0 of the conv, which reads pixels -1..1
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Upsample(scale_factor=3, mode="bilinear"))
    boxes = [b[0] for b in gradient_boxes(model, (1, 1, 8, 3), _diagonal(12, (24, 9)))]
    assert boxes == [(0, 1), (0, 1), (0, 2), (0, 2), (0, 2), (0, 3), (0, 3), (1, 3), (1, 4), (1, 4), (2, 4), (2, 5)]


class Saturating(nn.Module):
    """Functional activations driven into the region where their real gradient is exactly 0."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        x = F.relu(self.conv(x) - 10.0)
        x = torch.relu(x - 10.0)
        x = (x - 10.0).relu_()
        x = F.gelu(x - 100.0) + torch.sigmoid(x + 1000.0) + x.sigmoid() * 0 + F.silu(x - 1000.0)
        x = F.hardswish(x - 10.0) + F.relu6(x + 10.0) + x.clamp(max=-1.0) + nn.SiLU()(x - 1000.0)
        return F.max_pool2d(x, 2)


def test_functional_activations_are_identity_and_max_pool_is_a_mean():
    # every pixel of each 2x2 window (a real max would reach one of them, the saturated activations none)
    boxes = gradient_boxes(Saturating(), (1, 1, 9, 7), [(0, 0), (1, 2), (3, 2)])
    assert boxes == [((0, 1), (0, 1)), ((2, 3), (4, 5)), ((6, 7), (4, 5))]


def test_dilated_max_pool_with_ceil_mode():
    # k3 s2 p1 d2 on 12 (output 6): window o reads pixels 2o-1, 2o+1, 2o+3 (-1 and 13 are padding)
    pool = nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)
    boxes = gradient_boxes(pool, (1, 1, 12, 12), _diagonal(6, (6, 6)))
    assert [b[0] for b in boxes] == [(1, 3), (1, 5), (3, 7), (5, 9), (7, 11), (9, 11)]


def test_adaptive_max_pool_reads_the_adaptive_windows():
    # 7 -> 3: windows [floor(7i/3), ceil(7(i+1)/3)) = [0, 3), [2, 5), [4, 7)
    boxes = gradient_boxes(nn.AdaptiveMaxPool1d(3), (1, 1, 7), [0, 1, 2])
    assert boxes == [((0, 2),), ((2, 4),), ((4, 6),)]


class SqueezeExcite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        x = self.conv(x)
        gate = torch.sigmoid(self.fc(x.mean((2, 3)))).view(x.shape[0], -1, 1, 1)
        glob = F.adaptive_max_pool2d(x, 1) + x.amax((2, 3), keepdim=True)
        return x * gate + glob


def test_global_context_is_detached():
    # without the detach, every unit's box would be the whole image
    assert gradient_boxes(SqueezeExcite(), (1, 3, 11, 9), [(5, 4), (0, 8)]) == [((4, 6), (3, 5)), ((0, 1), (7, 8))]


def test_a_fixed_window_pool_down_to_one_unit_stays_local():
    # avg k3 s3 p1 twice on 9: 3 units reading [0, 1], [2, 4], [5, 7], then one reading units -1..1: [0, 4]
    model = nn.Sequential(nn.AvgPool2d(3, 3, 1), nn.AvgPool2d(3, 3, 1))
    assert gradient_boxes(model, (1, 1, 9, 9), [(0, 0)]) == [((0, 4), (0, 4))]


def test_causal_one_d_map_and_dict_output():
    class Causal(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(1, 1, 3, dilation=2)

        def forward(self, x):
            return {"out": self.conv(F.pad(x, (4, 0))), "aux": x}

    # unit t reads t-4, t-2, t (negative: the left padding)
    boxes = gradient_boxes(Causal(), (1, 1, 10), [0, 3, 4, 9], output="out")
    assert boxes == [((0, 0),), ((1, 3),), ((0, 4),), ((5, 9),)]
    assert gradient_boxes(Causal(), (1, 1, 10), [9], output=lambda o: o["out"]) == [((5, 9),)]
    with pytest.raises(ConfigError, match="output="):
        gradient_boxes(Causal(), (1, 1, 10), [0])


def test_batch_statistics_do_not_mix_the_units():
    # a norm that uses batch statistics even in eval mode would couple the replicated batch elements
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.Conv2d(2, 1, 3),
                          nn.GroupNorm(1, 1), nn.InstanceNorm2d(1))
    units = [(0, 0), (2, 3), (4, 1)]
    together = gradient_boxes(model, (1, 1, 9, 8), units)
    assert together == [gradient_boxes(model, (1, 1, 9, 8), [u])[0] for u in units]
    assert together == [((0, 4), (0, 4)), ((2, 6), (3, 7)), ((4, 8), (1, 5))]


def test_padding_constant_map_has_no_field():
    # units that read only zero padding depend on no pixel
    model = nn.Sequential(nn.ZeroPad2d(3), nn.Conv2d(1, 1, 3))
    boxes = gradient_boxes(model, (1, 1, 5, 5), [(0, 0), (2, 2)])
    assert boxes == [None, ((0, 1), (0, 1))]


def test_the_users_model_is_not_touched():
    model = nn.Sequential(spectral_norm(nn.Conv2d(2, 3, 3)), nn.BatchNorm2d(3), nn.ReLU())
    model.train()
    calls = []
    handle = model[2].register_forward_hook(lambda m, i, o: calls.append(o.dtype))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gradient_boxes(model, (1, 2, 8, 8), [(1, 1)])
    empirical_receptive_field(model, (1, 2, 8, 8))
    assert model.training and all(m.training for m in model.modules())
    assert {k: v.dtype for k, v in model.state_dict().items()} == {k: v.dtype for k, v in before.items()}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert hasattr(model[0], "parametrizations") and len(model[2]._forward_hooks) == 1
    handle.remove()


def test_positive_copy_is_positive_float64_eval():
    model = nn.Sequential(spectral_norm(nn.Conv2d(2, 3, 3)), nn.BatchNorm2d(3), nn.ConvTranspose2d(3, 2, 4, 2))
    probe = positive_copy(model)
    assert not probe.training and not hasattr(probe[0], "parametrizations")
    assert all(p.dtype == torch.float64 and (p > 0).all() and not p.requires_grad for p in probe.parameters())
    assert probe[1].running_mean.eq(0).all() and probe[1].running_var.eq(1).all()


def test_linearised_is_scoped():
    x = torch.tensor([-1.0, 2.0])
    with Linearised():
        assert torch.equal(F.relu(x), x)
    assert torch.equal(F.relu(x), torch.tensor([0.0, 2.0]))


def test_empirical_receptive_field_centre_unit():
    emp = empirical_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1)), (1, 1, 17, 17))
    # the lecture's two 3x3 s2 convs: r = 7, j = 4, start 0.5; unit (2, 2) of 5 x 5 is centred on 0.5 + 8
    assert (emp.unit, emp.size, emp.top_left, emp.centre) == ((2, 2), (7, 7), (5, 5), (8.5, 8.5))


@pytest.mark.parametrize(("units", "message"), [([(5, 0)], "not an index"), ([(0,)], "not an index"), ([], "at least")])
def test_bad_units_are_config_errors(units, message):
    with pytest.raises(ConfigError, match=message):
        gradient_boxes(nn.Conv2d(1, 1, 3), (1, 1, 5, 5), units)


def test_max_pool_indices_have_no_linear_stand_in():
    class Unpool(nn.Module):
        def forward(self, x):
            y, idx = F.max_pool2d(x, 2, return_indices=True)
            return F.max_unpool2d(y, idx, 2)

    with pytest.raises(ConfigError, match="indices"):
        gradient_boxes(Unpool(), (1, 1, 4, 4), [(0, 0)])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_grouped_conv_and_max_pool_stand_ins_have_the_real_support():
    # every (channel, position) impulse through the real operator (positive weights) and through the
    # linearised one: the same outputs must light up, for every geometry torch accepts
    checked = 0
    for n, k, s, d, pad, (cin, cout, groups) in itertools.product(
            (8, 11), (1, 2, 3, 4), (1, 2, 3), (1, 2), (0, 3, "same", "valid"), ((4, 4, 4), (4, 6, 2), (6, 3, 3))):
        if pad == "same" and s != 1:
            continue
        w = torch.rand(cout, cin // groups, k) + 0.5
        x = torch.eye(cin * n).reshape(cin * n, cin, n)
        real = F.conv1d(x, w, None, s, pad, d, groups) != 0
        with Linearised():
            assert torch.equal(F.conv1d(x, w, None, s, pad, d, groups) != 0, real), (n, k, s, d, pad, groups)
        checked += 1
    for n, k, s, p, d, ceil in itertools.product((5, 8, 11), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2), (False, True)):
        if p > k // 2 or d * (k - 1) + 1 > n + 2 * p:
            continue
        x = torch.eye(n).reshape(n, 1, n)
        real = F.max_pool1d(x, k, s, p, d, ceil) != 0
        with Linearised():
            assert torch.equal(F.max_pool1d(x, k, s, p, d, ceil) != 0, real), (n, k, s, p, d, ceil)
        checked += 1
    assert checked > 300
