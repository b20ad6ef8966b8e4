"""Every family builder with random knobs: a model whose forward pass works, or a ConfigError naming the
bad value — never another exception (too small inputs included)."""

from __future__ import annotations

import torch
from hypothesis import event, given
from hypothesis import strategies as st
from torch import nn

from cnnlab import ConfigError
from cnnlab.nets.googlenet import build_googlenet
from cnnlab.nets.mobilenet import MobileNetStage, build_mobilenet_v1, build_mobilenet_v2
from cnnlab.nets.resnet import build_resnet
from cnnlab.nets.shufflenet import build_shufflenet_v1
from cnnlab.nets.vgg import build_vgg


def knob(good, bad):
    """Mostly valid values, a bad one about one time in eight."""
    return st.integers(0, 7).flatmap(lambda roll: bad if roll == 7 else good)


common = {
    "num_classes": knob(st.integers(0, 5), st.just(-1)),
    "in_chans": knob(st.integers(1, 3), st.just(0)),
    "drop_rate": knob(st.sampled_from([0.0, 0.3]), st.sampled_from([-0.1, 1.0])),
}
int_list = knob(st.lists(st.integers(1, 2), min_size=1, max_size=4),
                st.lists(st.integers(-1, 2), min_size=0, max_size=4))
width_list = knob(st.lists(st.integers(1, 24), min_size=1, max_size=4),
                  st.lists(st.integers(-1, 24), min_size=0, max_size=4))
mobile_rows = st.lists(
    st.builds(MobileNetStage, knob(st.sampled_from([1, 2, 6]), st.just(0)), knob(st.integers(1, 24), st.just(0)),
              knob(st.integers(1, 2), st.just(0)), knob(st.integers(1, 2), st.just(0))),
    min_size=0, max_size=3,
)

FAMILIES = {
    "resnet": (build_resnet, {
        "block": knob(st.sampled_from(["basic", "bottleneck"]), st.just("dense")),
        "depths": int_list,
        "widths": width_list,
        "groups": knob(st.sampled_from([1, 2]), st.integers(0, 4)),
        "width_per_group": knob(st.sampled_from([16, 64]), st.sampled_from([0, 4])),
        "stride_on": knob(st.sampled_from(["3x3", "1x1"]), st.just("5x5")),
        "stem": knob(st.sampled_from(["7x7", "root"]), st.just("deep")),
        "stem_width": knob(st.integers(1, 16), st.just(0)),
        "stem_stride": knob(st.integers(1, 2), st.sampled_from([0, 3])),
        "stem_pool": st.booleans(),
        "zero_init_residual": st.booleans(),
    }),
    "vgg": (build_vgg, {
        "convs": int_list,
        "widths": width_list,
        "batch_norm": st.booleans(),
        "hidden": knob(st.integers(1, 16), st.just(0)),
    }),
    "googlenet": (build_googlenet, {
        "kernel_5x5": knob(st.sampled_from([3, 5]), st.just(7)),
        "batch_norm": st.booleans(),
        "lrn": st.booleans(),
        "aux_logits": st.booleans(),
    }),
    "mobilenet_v1": (build_mobilenet_v1, {
        "width_multiplier": knob(st.sampled_from([0.1, 0.25, 0.33]), st.sampled_from([-1.0, 0.0])),
        "stage_table": mobile_rows,
        "stem_channels": knob(st.integers(1, 16), st.just(0)),
    }),
    "mobilenet_v2": (build_mobilenet_v2, {
        "width_multiplier": knob(st.sampled_from([0.1, 0.25, 0.33]), st.sampled_from([-1.0, 0.0])),
        "stage_table": mobile_rows,
        "last_channels": knob(st.integers(1, 32), st.just(0)),
    }),
    "shufflenet": (build_shufflenet_v1, {
        "groups": knob(st.sampled_from([1, 2, 3, 8]), st.just(5)),
        "scale": knob(st.sampled_from([0.05, 0.1, 0.25]), st.sampled_from([-0.5, 0.0])),
        "depths": knob(st.lists(st.integers(1, 2), min_size=3, max_size=3),
                       st.lists(st.integers(-1, 2), min_size=2, max_size=4)),
    }),
}


@st.composite
def family_case(draw):
    family = draw(st.sampled_from(sorted(FAMILIES)))
    builder, knobs = FAMILIES[family]
    chosen = {k: draw(s) for k, s in {**common, **knobs}.items() if draw(st.booleans())}
    size = draw(st.integers(1, 40))
    return builder, chosen, size


@given(family_case())
@torch.no_grad()
def test_builders_with_random_knobs(case) -> None:
    builder, kwargs, size = case
    try:
        model = builder(**kwargs)
    except ConfigError as exc:
        event("rejected at build")
        message = str(exc)
        assert any(k in message for k in kwargs) or any(
            word in message for word in ("channels", "groups", "stage table", "expansion")), message
        return
    model.eval()
    in_chans = kwargs.get("in_chans", 3)
    try:
        out = model(torch.randn(1, in_chans, size, size))
    except ConfigError as exc:
        event("input too small")
        assert "smaller than the minimum" in str(exc)
        assert size < model.min_input_size
        return
    assert size >= model.min_input_size
    num_classes = kwargs.get("num_classes", 1000)
    assert out.shape == (1, num_classes or model.num_features)
    assert isinstance(model.stages, nn.Sequential) and len(model.feature_info) == len(model.stages)
