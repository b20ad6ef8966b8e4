"""The public rule registry: a user teaches inspect a new op, bad rules are named, cnnlab's DeformConv2d."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import ConfigError
from cnnlab.analysis import PASS, Call, Rule, inspect, register_function_rule, register_module_rule
from cnnlab.analysis.empirical import gradient_boxes
from cnnlab.arith.sampling import Pad
from cnnlab.units import DeformConv2d


class Shift(nn.Module):
    """Moves the map ``k`` pixels right along the width (zeros come in): a unit cnnlab has no rule for."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x, (self.k, 0))[..., : x.shape[-1]] * 2.0


def test_a_registered_module_rule_replaces_the_walk_inside():
    register_module_rule(Shift, Rule("shift", cost=lambda call: ({}, {"mul": call.out.numel()}),
                                     field=lambda call: (None, Pad(call.module.k)), shape=lambda call: call.input.shape))
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), Shift(2))
    r = inspect(model, (1, 1, 9, 11))
    row = r.rows[-1]
    assert (row.path, row.type, row.kind, row.flops) == ("1", "Shift", "shift", 99)
    rf = r.receptive_field
    assert rf.box((4, 5)) == ((3, 5), (2, 4))  # the conv's 3x3 window, two pixels to the left
    units = [(4, u) for u in range(11)]
    assert [rf.image_box(u) for u in units] == gradient_boxes(model, (1, 1, 9, 11), units)


def double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


torch.fx.wrap("double")  # fx records a call of double instead of tracing into it


def test_a_registered_function_rule_is_used_for_a_wrapped_function():
    register_function_rule(double, Rule("mul", cost=lambda call: ({}, {"mul": call.out.numel()}),
                                        field=lambda call: PASS))

    class Model(nn.Module):
        def forward(self, x):
            return double(x)

    r = inspect(Model(), (1, 2, 4, 4))
    assert r.ops_by_kind == {"mul": 32} and r.rows[0].kind == "mul" and r.receptive_field.size == (1, 1)


@pytest.mark.parametrize(("target", "rule", "match"), [
    ("Conv2d", Rule("conv"), "nn.Module subclass, got 'Conv2d'"),
    (42, Rule("conv"), "nn.Module subclass, got 42"),
    (nn.Conv2d, "conv", "must be a cnnlab.analysis.Rule, got str"),
])
def test_registering_a_bad_module_rule_names_it(target, rule, match):
    with pytest.raises(ConfigError, match=match):
        register_module_rule(target, rule)


def test_registering_a_bad_function_rule_names_it():
    with pytest.raises(ConfigError, match="function or a method name, got 42"):
        register_function_rule(42, Rule("x"))
    with pytest.raises(ConfigError, match="not a method name"):
        register_function_rule("no such", Rule("x"))
    with pytest.raises(ConfigError, match="cost must be a function, got 3"):
        Rule("x", cost=3)
    with pytest.raises(ConfigError, match="kind must be a non-empty string"):
        Rule("")


class Odd(nn.Module):
    def forward(self, x):
        return x + 1


class Odder(nn.Module):
    def forward(self, x):
        return x + 1


def test_a_rule_returning_the_wrong_type_is_named_with_the_layer():
    register_module_rule(Odd, Rule("odd", cost=lambda call: 7, shape=lambda call: call.input.shape))
    with pytest.raises(ConfigError, match=r"'odd' rule at '0' returned 7 from cost\(\)"):
        inspect(nn.Sequential(Odd()), (1, 1, 4, 4))
    register_module_rule(Odder, Rule("odder", field=lambda call: "sideways", shape=lambda call: call.input.shape))
    with pytest.raises(ConfigError, match=r"'odder' rule at '0' returned 'sideways' from field\(\)"):
        inspect(nn.Sequential(Odder()), (1, 1, 4, 4))


@pytest.mark.parametrize("modulated", [False, True])
def test_deform_conv_rule_counts_what_flop_counter_counts(modulated):
    # FlopCounterMode sees the offset/mask convolutions and the column matmul of the main kernel
    model = DeformConv2d(8, 16, 3, padding=1, stride=2, modulated=modulated)
    x = torch.randn(2, 8, 15, 13)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    r = inspect(model, tuple(x.shape))
    assert r.macs == counter.get_total_flops() // 2
    assert r.params == sum(p.numel() for p in model.parameters())
    assert "deformable" in r.rows[0].note and r.receptive_field.size == (3, 3)


def test_a_call_exposes_its_arguments():
    call = Call(nn.Conv2d, (torch.empty(1, 2, device="meta"), 3), {"stride": 2})
    assert call.arg(1, "kernel_size") == 3 and call.arg(2, "stride") == 2 and call.arg(3, "padding", 0) == 0
    assert tuple(call.input.shape) == (1, 2)
