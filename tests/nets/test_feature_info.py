"""``feature_info`` is derived from the stages as they are built (``StageStack``); here it is held against
what ``features_only=True`` actually returns: channels read from the tensors, reduction = input size /
feature size. Every registered model, then random builder settings. Built on the meta device (free)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import cnnlab
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet
from cnnlab.nets.googlenet import build_googlenet
from cnnlab.nets.mobilenet import MobileNetStage, build_mobilenet_v1, build_mobilenet_v2
from cnnlab.nets.resnet import build_resnet
from cnnlab.nets.shufflenet import build_shufflenet_v1
from cnnlab.nets.vgg import build_vgg


def measured(features: nn.Module, size: int) -> list[dict]:
    """feature_info as the outputs of ``features`` for a ``size``×``size`` input show it."""
    outs = features(torch.empty(1, features.in_chans, size, size, device="meta"))
    for out in outs:
        assert size % out.shape[-1] == 0 and out.shape[-1] == out.shape[-2], (size, tuple(out.shape))
    return [{"num_chs": out.shape[1], "reduction": size // out.shape[-1], "module": f"stages.{i}"}
            for i, out in enumerate(outs)]


@pytest.mark.parametrize("name", cnnlab.list_models())
def test_every_registered_model(name: str) -> None:
    with torch.device("meta"):
        features = cnnlab.create_model(name, features_only=True)
    assert features.feature_info == measured(features, 224)
    assert len(features.feature_info) == len(features.stages) > 0


def test_shufflenet_strides_are_derived() -> None:
    """ShuffleNet Table 1: output size 28, 14, 7 for stages 2-4 of a 224 image (strides 8, 16, 32),
    once a hard-coded tuple, now stem stride 4 times each stage's 2."""
    with torch.device("meta"):
        model = cnnlab.create_model("shufflenet_v1_g3", features_only=True)
    assert [f["reduction"] for f in model.feature_info] == [8, 16, 32]
    assert [f["num_chs"] for f in model.feature_info] == [240, 480, 960]


def test_stage_stack_records_channels_and_cumulative_stride() -> None:
    stack = StageStack(16, stride=2)
    stack.add(nn.Identity(), 16)
    stack.add_repeated(lambda j, c, s: nn.Conv2d(c, 32, 3, s, 1), 32, depth=2, stride=2)
    assert stack.feature_info == [{"num_chs": 16, "reduction": 2, "module": "stages.0"},
                                  {"num_chs": 32, "reduction": 4, "module": "stages.1"}]
    assert [m.in_channels for m in stack.sequential[1]] == [16, 32]
    stack.feature_info[0]["num_chs"] = 99  # a copy: the record cannot be edited from outside
    assert stack.feature_info[0]["num_chs"] == 16
    with pytest.raises(TypeError, match="StageStack"):
        ZooNet(nn.Identity(), nn.Sequential(nn.Identity()), ClassifierHead(3, 2), stage_specs=[], in_chans=3)


rows = st.lists(st.builds(MobileNetStage, st.sampled_from([1, 6]), st.integers(1, 24), st.integers(1, 2),
                          st.integers(1, 2)), min_size=1, max_size=3)
# a stage table: (blocks or convs, width) per stage
table = st.lists(st.tuples(st.integers(1, 2), st.integers(1, 24)), min_size=1, max_size=5)
BUILDERS = st.one_of(
    st.tuples(st.just(build_resnet), st.fixed_dictionaries({
        "block": st.sampled_from(["basic", "bottleneck"]),
        "stages": table,
        "stem": st.sampled_from(["7x7", "root"]),
        "stem_stride": st.integers(1, 2),
        "stem_pool": st.booleans(),
    })),
    st.tuples(st.just(build_vgg), st.fixed_dictionaries({"stages": table, "in_chans": st.integers(1, 3)})),
    st.tuples(st.just(build_googlenet), st.fixed_dictionaries({"transform_input": st.booleans(),
                                                               "lrn": st.booleans()})),
    st.tuples(st.just(build_mobilenet_v1), st.fixed_dictionaries({"stage_table": rows,
                                                                  "width_multiplier": st.sampled_from([0.25, 1.0])})),
    st.tuples(st.just(build_mobilenet_v2), st.fixed_dictionaries({"stage_table": rows})),
    st.tuples(st.just(build_shufflenet_v1), st.fixed_dictionaries({"groups": st.sampled_from([1, 2, 3, 4, 8]),
                                                                   "scale": st.sampled_from([0.25, 0.5])})),
)


@given(BUILDERS, st.integers(1, 3))
def test_random_builder_settings(case, multiple: int) -> None:
    """For any stage table, at any input that is a multiple of the total stride and fits the network."""
    builder, kwargs = case
    if "stages" in kwargs:
        pairs = kwargs.pop("stages")
        kwargs["depths" if builder is build_resnet else "convs"] = [n for n, _ in pairs]
        kwargs["widths"] = [w for _, w in pairs]
    with torch.device("meta"):
        model = builder(**kwargs)
    total = model.feature_info[-1]["reduction"]
    size = total * multiple
    while size < model.min_input_size:
        size += total
    features = cnnlab.nets.base.FeatureExtractor(model.eval())
    assert features.feature_info == measured(features, size)
