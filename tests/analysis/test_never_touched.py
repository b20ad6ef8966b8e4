"""inspect never touches the model: no parametrization runs on it, none of its hooks fires, nothing changes.

Also: a module called twice costs twice and counts its parameters once; several and keyword inputs
(torchinfo's ``input_data``). References: the model's own state before and after, FlopCounterMode.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import ConfigError
from cnnlab.analysis import inspect


def discriminator(norm: str) -> nn.Module:
    """A PatchGAN-style critic whose convolutions carry a weight reparametrization, in train mode."""
    wrap = {
        "spectral": parametrizations.spectral_norm,
        "weight": parametrizations.weight_norm,
        "spectral_old": nn.utils.spectral_norm,
        "weight_old": nn.utils.weight_norm,
    }[norm]
    return nn.Sequential(wrap(nn.Conv2d(3, 8, 4, 2, 1)), nn.LeakyReLU(0.2), wrap(nn.Conv2d(8, 16, 4, 2, 1)),
                         nn.LeakyReLU(0.2), wrap(nn.Conv2d(16, 1, 4, 1, 1))).train()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor the model holds: parameters, buffers (spectral norm's u, v) and plain tensor attributes."""
    out = {f"state.{k}": v.clone() for k, v in model.state_dict(keep_vars=True).items()}
    for name, m in model.named_modules():
        for key, value in vars(m).items():
            if isinstance(value, torch.Tensor):
                out[f"{name}.{key}"] = value.detach().clone()
    return out


@pytest.mark.parametrize("norm", ["spectral", "weight", "spectral_old", "weight_old"])
def test_parametrizations_are_not_run_on_the_model(norm):
    model = discriminator(norm)
    before = snapshot(model)
    x = torch.randn(1, 3, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        discriminator(norm).eval()(x)  # a twin: running the model itself would update its state
    r = inspect(model, tuple(x.shape))
    after = snapshot(model)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), "inspect changed a tensor of the model"
    assert model.training
    convs = sum(m.out_channels * m.in_channels * 16 * s * s
                for m, s in zip([mm for mm in model.modules() if isinstance(mm, nn.Conv2d)], (16, 8, 7), strict=True))
    assert r.macs == convs  # the three convolutions only; spectral norm's power iteration is not inference
    assert counter.get_total_flops() // 2 >= r.macs


def test_hooks_of_the_model_never_fire():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    calls: list[str] = []
    model[0].register_forward_hook(lambda m, i, o: calls.append("forward"))
    model[2].register_forward_pre_hook(lambda m, i: calls.append("pre"))
    model.register_forward_hook(lambda m, i, o: calls.append("model"))
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: calls.append("global"))
    try:
        inspect(model, (1, 3, 16, 16))

        class DataDependent(nn.Module):  # fx cannot trace it: the hooks walk runs, on a copy
            def __init__(self) -> None:
                super().__init__()
                self.body = model

            def forward(self, x):
                for _ in range(int(x.shape[-1] > 8)):
                    x = self.body(x)
                return x

        r = inspect(DataDependent(), (1, 3, 16, 16))
        assert r.traced_with == "hooks"
        assert calls == []
        model(torch.randn(1, 3, 16, 16))  # the hooks are still there and work
    finally:
        handle.remove()
    assert calls.count("forward") == 1 and calls.count("pre") == 1 and calls.count("global") == 4


def test_a_module_called_twice_costs_twice_and_counts_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(torch.relu(self.conv(x)))

    model = Twice()
    x = torch.randn(1, 4, 10, 10)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    r = inspect(model, tuple(x.shape))
    assert r.macs == counter.get_total_flops() // 2 == 2 * 4 * 4 * 9 * 100
    assert r.params == sum(p.numel() for p in model.parameters()) == 4 * 4 * 9 + 4
    assert [row.params for row in r.rows if row.type == "Conv2d"] == [148, 0]
    assert r.receptive_field.size == (5, 5)


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Conv2d(3, 8, 3, padding=1)
        self.mask = nn.Conv2d(1, 8, 1)

    def forward(self, image, mask=None, scale: float = 1.0):
        y = self.image(image)
        return y * self.mask(mask) * scale if mask is not None else y


@pytest.mark.parametrize("style", ["list", "dict", "sizes"])
def test_several_and_keyword_inputs(style):
    image, mask = torch.randn(2, 3, 12, 10), torch.randn(2, 1, 12, 10)
    model = TwoInputs()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(image, mask)
    if style == "list":
        r = inspect(model, input_data=[image, mask])
    elif style == "dict":
        r = inspect(model, input_data={"image": image, "mask": mask, "scale": 0.5})
    else:
        r = inspect(model, [(2, 3, 12, 10), "2x1x12x10"])
    assert r.macs == counter.get_total_flops() // 2
    assert r.input_size == (2, 3, 12, 10) and r.receptive_field.size == (3, 3)


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="input_size or input_data, not both"):
        inspect(TwoInputs(), (1, 3, 8, 8), input_data=torch.randn(1, 3, 8, 8))
    with pytest.raises(ConfigError, match="input_data must be"):
        inspect(TwoInputs(), input_data="image.png")
    with pytest.raises(ConfigError, match=r"input_size\[1\]"):
        inspect(TwoInputs(), [(1, 3, 8, 8), (1, 0, 8)])
