"""The effective receptive field against the paper's findings (Luo, Li, Urtasun & Zemel, NIPS 2016) and against
gradients torch computes directly.

References: the paper's Sec. 2.2 (uniform weights: the n-fold convolution of the kernel, a Gaussian whose
variance is n times the kernel offsets' variance, 2/3 for a 3x3 kernel) and Sec. 2.3 (random weights: the
same sqrt(n) growth); the theoretical size of n stacked 3x3 convolutions, r = 2n + 1 (Araujo et al. 2019,
Distill); ResNet-18's r = 435 (docs/analysis.md, as google-research/receptive_field computes it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import ConfigError
from cnnlab.analysis.effective_rf import effective_receptive_field, erf_heatmap, mass_radius, moment_sigma


def stack(depth: int, channels: int = 1, weights: str = "ones", relu: bool = False, seed: int = 0) -> nn.Sequential:
    """The paper's setup: ``depth`` 3x3 convolutions (stride 1, padding 1, no bias), all-ones or N(0, 1)
    weights, optionally a ReLU after each."""
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.ones_like(conv.weight) if weights == "ones"
                              else torch.randn(conv.weight.shape, generator=generator))
        layers.append(conv)
        if relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def last(model: nn.Sequential, images: torch.Tensor, **kwargs):
    """The effective field of the last layer's centre unit."""
    (field,) = effective_receptive_field(model, images, [str(len(model) - 1)], **kwargs).values()
    return field


def images(n: int, channels: int, side: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


def test_one_all_ones_convolution_gives_a_flat_3x3_gradient():
    field = last(stack(1), images(2, 1, 11))
    expected = np.zeros((11, 11))
    expected[4:7, 4:7] = 1.0  # d(sum of the 3x3 window)/dx = 1 on the window, by hand
    np.testing.assert_array_equal(field.heatmap, expected)
    assert field.unit == (5, 5) and field.centre == (5.5, 5.5)
    assert field.r == 3 and field.box == ((4, 6), (4, 6))
    assert field.radius == 1.5 and field.side == 3  # 95 % of a flat 3x3 needs all 9 pixels: the whole field


@pytest.mark.parametrize("depth", [1, 4, 16])
def test_uniform_weights_give_the_papers_variance(depth):
    """Sec. 2.2: n all-ones 3x3 layers, linear: the gradient is the n-fold convolution of the box kernel,
    per axis a distribution of n offsets in {-1, 0, 1}, variance 2n/3."""
    field = last(stack(depth), images(1, 1, 2 * depth + 9))
    assert field.sigma == pytest.approx((math.sqrt(2 * depth / 3),) * 2, rel=1e-6)  # float32 gradients
    assert field.r == 2 * depth + 1


def test_uniform_weights_effective_radius_grows_like_sqrt_depth_theoretical_like_depth():
    shallow, deep = last(stack(4), images(1, 1, 41)), last(stack(16), images(1, 1, 41))
    assert (shallow.r, deep.r) == (9, 33)  # r = 2n + 1: x3.7 for x4 depth
    assert 1.6 <= deep.radius / shallow.radius <= 2.5  # sqrt(16 / 4) = 2 (measured 7.5 / 3.5)
    assert deep.side < deep.r / 2  # 95 % of the mass in a quarter of the theoretical field's area


def central_share(field, side: float) -> float:
    """Share of the heatmap's mass in the square of ``side`` centred on the unit's field."""
    rows = np.abs(np.arange(field.heatmap.shape[0]) + 0.5 - field.centre[0]) <= side / 2
    cols = np.abs(np.arange(field.heatmap.shape[1]) + 0.5 - field.centre[1]) <= side / 2
    return float(field.heatmap[np.ix_(rows, cols)].sum() / field.heatmap.sum())


@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
def test_random_weights_effective_radius_grows_like_sqrt_depth(relu):
    """Sec. 2.3: N(0, 1) weights, 16 channels, with and without ReLU, three initialisations each: the 95 % radius
    and sigma of depth 16 are 1.6-2.5 times those of depth 4 (sqrt(4) = 2), the theoretical r 33 / 9 = 3.7 times;
    the effective field is much smaller than the theoretical one and shrinks relative to it with depth."""
    fields = {depth: [last(stack(depth, 16, "randn", relu, seed), images(4, 16, 2 * depth + 17, seed))
                      for seed in range(3)] for depth in (4, 16, 32)}
    radius = {d: np.mean([f.radius for f in fs]) for d, fs in fields.items()}
    sigma = {d: np.mean([f.sigma[0] + f.sigma[1] for f in fs]) / 2 for d, fs in fields.items()}
    r = {d: fs[0].r for d, fs in fields.items()}
    assert r == {4: 9, 16: 33, 32: 65}
    assert 1.6 <= radius[16] / radius[4] <= 2.5
    assert 1.6 <= sigma[16] / sigma[4] <= 2.5
    assert 1.2 <= sigma[32] / sigma[16] <= 1.7  # sqrt(2) = 1.41
    # the central quarter of the theoretical field's area holds most of the mass at depth 16 and 32
    for depth in (16, 32):
        assert min(central_share(f, r[depth] / 2) for f in fields[depth]) > 0.75
    share = {d: radius[d] * 2 / r[d] for d in fields}
    assert share[4] > share[16] > share[32] and share[32] < 0.5


class SmallNet(nn.Module):
    """Conv-BN-ReLU-dropout blocks, one strided: a real network with state (running statistics) and randomness."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU()),
            nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5)),
        )
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def trained_like(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so that eval and train modes differ."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    return model


def test_heatmap_is_the_mean_over_images_of_torchs_input_gradient():
    """The paper's seed (the centre's gradient 1 for every channel) back-propagated by torch, image by image,
    |.| summed over input channels, averaged: the same numbers."""
    torch.manual_seed(0)
    model = trained_like(SmallNet()).eval()
    x = images(5, 2, 12)
    field = effective_receptive_field(model, x, ["features.1"])["features.1"]
    expected = np.zeros((12, 12))
    for image in x:
        leaf = image[None].clone().requires_grad_(True)
        y = model.features(leaf)
        (grad,) = torch.autograd.grad(y[0, :, 3, 3].sum(), leaf)
        expected += grad.abs().sum((0, 1)).double().numpy() / len(x)
    np.testing.assert_allclose(field.heatmap, expected, rtol=1e-5, atol=1e-12)
    assert field.unit == (3, 3) and field.images == 5 and field.mode == "eval"
    np.testing.assert_allclose(erf_heatmap(model, x[2], "features.1"),
                               effective_receptive_field(model, x[2:3], ["features.1"])["features.1"].heatmap)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}


def test_the_model_is_never_touched_and_eval_mode_is_the_default():
    torch.manual_seed(0)
    model = trained_like(SmallNet()).train()
    before = snapshot(model)
    x = images(4, 2, 12)
    fields = effective_receptive_field(model, x)  # default units: the last top-level child of each resolution
    assert list(fields) == ["features"]
    assert model.training and all(m.training for m in model.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    after = snapshot(model)
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)
    # eval mode: running statistics, no dropout — the same as on an eval-mode copy
    reference = trained_like(SmallNet())
    reference.load_state_dict(model.state_dict())
    np.testing.assert_allclose(fields["features"].heatmap,
                               effective_receptive_field(reference.eval(), x)["features"].heatmap, rtol=1e-6)
    trained_mode = effective_receptive_field(model, x, mode="train")["features"]
    assert trained_mode.mode == "train" and not np.allclose(trained_mode.heatmap, fields["features"].heatmap)
    assert all(torch.equal(before[k], v) for k, v in snapshot(model).items())  # train mode ran on the copy


def test_stage_ends_carry_the_theoretical_field_inspect_reports():
    from cnnlab import create_model, inspect
    from cnnlab.analysis.render.rf_plot import stage_fields

    torch.manual_seed(0)
    model = create_model("resnet18", in_chans=1, num_classes=10)
    fields = effective_receptive_field(model, images(2, 1, 32))
    assert list(fields) == ["stages.0", "stages.1", "stages.2", "stages.3"]  # feature_info's modules
    assert fields["stages.3"].r == 435  # ResNet-18 (docs/analysis.md)
    printed = {path.split(".")[1]: r for path, _, r, _ in stage_fields(inspect(model, (1, 1, 32, 32)))
               if path.startswith("stages.")}
    assert {k: f"{f.r}x{f.r}" for k, f in ((p.split(".")[1], f) for p, f in fields.items()) if k in printed} == printed
    jump = {p: f.theory.jump for p, f in fields.items()}
    assert jump == {"stages.0": (4, 4), "stages.1": (8, 8), "stages.2": (16, 16), "stages.3": (32, 32)}
    for f in fields.values():  # the gradient stays inside the theoretical box, clipped by the image
        (top, bottom), (left, right) = f.box
        nonzero = np.argwhere(f.heatmap > 0)
        assert nonzero[:, 0].min() >= max(top, 0) and nonzero[:, 0].max() <= min(bottom, 31)
        assert nonzero[:, 1].min() >= max(left, 0) and nonzero[:, 1].max() <= min(right, 31)


def test_mass_radius_and_sigma_by_hand():
    dot = np.zeros((5, 5))
    dot[2, 2] = 1.0
    assert mass_radius(dot, (2.5, 2.5)) == 0.5 and moment_sigma(dot) == (0.0, 0.0)
    flat = np.ones((5, 5))
    assert mass_radius(flat, (2.5, 2.5), mass=1.0) == 2.5
    assert mass_radius(flat, (2.5, 2.5), mass=0.36) == 1.5  # 9 of 25 pixels = 0.36
    assert mass_radius(flat, (2.5, 2.5), mass=0.37) == 2.5
    assert mass_radius(np.zeros((3, 3)), (1.5, 1.5)) is None and moment_sigma(np.zeros((3, 3))) is None
    assert moment_sigma(flat)[0] == pytest.approx(math.sqrt((25 - 1) / 12))  # discrete uniform over 5 values


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"units": ["features.9"]}, "'features.9'"),
        ({"units": ["fc"]}, "'fc' gives shape (2, 3)"),
        ({"units": 7}, "units must be"),
        ({"mode": "training"}, "'training'"),
        ({"mass": 1.5}, "mass must be"),
        ({"images": torch.zeros(2, 2, 12, 12, dtype=torch.uint8)}, "torch.uint8"),
        ({"images": torch.zeros(12, 12)}, "(12, 12)"),
        ({"images": torch.full((1, 2, 12, 12), float("nan"))}, "finite"),
        ({"images": torch.zeros(1, 3, 12, 12)}, "shape (1, 3, 12, 12)"),
        ({"images": [1, 2]}, "list"),
    ],
)
def test_bad_input_is_a_config_error_naming_it(kwargs, named):
    model = SmallNet()
    args = {"images": images(2, 2, 12), **kwargs}
    with pytest.raises(ConfigError) as caught:
        effective_receptive_field(model, args.pop("images"), **args)
    assert named in str(caught.value)


def test_a_model_without_weights_is_refused():
    with torch.device("meta"):
        model = SmallNet()
    with pytest.raises(ConfigError, match="meta device"):
        effective_receptive_field(model, images(1, 2, 12))
    with pytest.raises(ConfigError, match="one image"):
        erf_heatmap(SmallNet(), images(2, 2, 12), "features")
