"""BatchNorm folding: folded models equal the eager originals (torch's own modules as the reference)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.infer import fold_batchnorm_


def _folded(model: nn.Module, example: torch.Tensor):
    work = copy.deepcopy(model).eval()
    report = fold_batchnorm_(work, example)
    return work, report


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torchvision_models_fold_every_batchnorm_and_keep_outputs(name, bn_tools):
    model = bn_tools.randomise(getattr(torchvision.models, name)(num_classes=10)).eval()
    x = torch.randn(2, 3, 64, 64)
    folded, report = _folded(model, x)
    assert report.method == "fx" and report.trace_error is None
    assert bn_tools.count(folded) == 0
    assert len(report.folded) == bn_tools.count(model)
    assert type(folded) is type(model)  # surgery on the module tree keeps the class
    with torch.no_grad():
        bn_tools.assert_close(folded(x), model(x))


class _TwoUsers(nn.Module):
    """The conv output feeds the BatchNorm and a skip connection: folding would change the skip."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


class _SharedConv(nn.Module):
    """One conv module called twice, once before a BatchNorm: its weights must stay as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.conv(self.bn(self.conv(x)))


class _ReadsWeight(nn.Module):
    """forward reads the BatchNorm's weight directly, so it cannot become an Identity."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.bn.weight.sum()


@pytest.mark.parametrize("cls", [_TwoUsers, _SharedConv, _ReadsWeight])
def test_unsafe_patterns_are_not_folded(cls, bn_tools):
    model = bn_tools.randomise(cls()).eval()
    x = torch.randn(2, model.conv.in_channels, 9, 9)
    folded, report = _folded(model, x)
    assert report.folded == []
    assert bn_tools.count(folded) == 1
    with torch.no_grad():
        bn_tools.assert_close(folded(x), model(x))


# (layer, norm, input shape): torch's layer types, each followed by the BatchNorm of its output
FOLDABLE = [
    ("conv2d+bias", lambda: nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), (2, 6, 7, 7)),
    ("conv2d-nobias-stride2", lambda: nn.Conv2d(6, 8, 3, 2, bias=False), nn.BatchNorm2d(8), (2, 6, 9, 9)),
    ("grouped", lambda: nn.Conv2d(6, 9, 3, groups=3, bias=False), nn.BatchNorm2d(9), (2, 6, 7, 7)),
    ("depthwise", lambda: nn.Conv2d(6, 6, 3, padding=1, groups=6), nn.BatchNorm2d(6), (2, 6, 7, 7)),
    ("conv1d", lambda: nn.Conv1d(4, 5, 3), nn.BatchNorm1d(5), (2, 4, 11)),
    ("conv3d", lambda: nn.Conv3d(2, 3, 3), nn.BatchNorm3d(3), (2, 2, 5, 5, 5)),
    ("convT", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2), nn.BatchNorm2d(6), (2, 4, 5, 5)),
    ("convT-grouped", lambda: nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False), nn.BatchNorm2d(6), (2, 4, 5, 5)),
    ("linear", lambda: nn.Linear(7, 5), nn.BatchNorm1d(5), (4, 7)),
]


class _Chain(nn.Module):
    """The same pair as attributes of a custom module, found through its fx graph."""

    def __init__(self, layer: nn.Module, norm: nn.Module) -> None:
        super().__init__()
        self.layer, self.norm = layer, norm

    def forward(self, x):
        return torch.relu(self.norm(self.layer(x)))


@pytest.mark.parametrize("case", FOLDABLE, ids=[c[0] for c in FOLDABLE])
@pytest.mark.parametrize("container", [nn.Sequential, _Chain])
def test_each_layer_type_folds_exactly(case, container, bn_tools):
    _, make_layer, norm, shape = case
    model = bn_tools.randomise(container(make_layer(), norm)).eval()
    x = torch.randn(shape)
    folded, report = _folded(model, x)
    assert len(report.folded) == 1, report
    assert bn_tools.count(folded) == 0
    with torch.no_grad():
        bn_tools.assert_close(folded(x), model(x))


def test_linear_batchnorm_on_a_3d_output_is_left_alone(bn_tools):
    # BatchNorm1d normalises axis 1; on (N, L, features) that is L, not the Linear's outputs
    model = bn_tools.randomise(nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))).eval()
    x = torch.randn(2, 8, 8)
    folded, report = _folded(model, x)
    assert report.folded == []
    with torch.no_grad():
        bn_tools.assert_close(folded(x), model(x))


class _Untraceable(nn.Module):
    """Data-dependent control flow defeats fx; the Sequential inside still folds."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.tail = nn.BatchNorm2d(4)  # not after a conv: stays

    def forward(self, x):
        y = self.body(x)
        return self.tail(y) if y.sum() > 0 else -y


def test_untraceable_model_falls_back_to_sequential_neighbours(bn_tools):
    model = bn_tools.randomise(_Untraceable()).eval()
    x = torch.randn(2, 3, 8, 8)
    folded, report = _folded(model, x)
    assert report.method == "sequential" and report.trace_error
    assert report.folded == [("body.0", "body.1")]
    assert bn_tools.count(folded) == 1
    with torch.no_grad():
        bn_tools.assert_close(folded(x), model(x))


def test_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval"), warnings.catch_warnings():
        fold_batchnorm_(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))
