"""Model specs ``NAME[:key=value,...]``: one parser in the registry, used by every command (compare included);
errors name the spec and the bad key or value."""

from __future__ import annotations

import keyword

import pytest
import torch
import torchvision
from hypothesis import given
from hypothesis import strategies as st
from torchvision.models.resnet import BasicBlock, ResNet

import cnnlab
from cnnlab import ConfigError
from cnnlab.compare.specs import parse_model_arg, spec_from_registry
from cnnlab.nets.model_spec import parse_model_spec
from cnnlab.nets.registry import create_model_from_spec


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_values_parse_as_python_values() -> None:
    assert parse_model_spec("nasnet:genotype=runs/x/best.json,C=8,N=1") == (
        "nasnet", {"genotype": "runs/x/best.json", "C": 8, "N": 1})
    name, kwargs = parse_model_spec(" resnet18 : stem_pool = false, drop_rate=0.5, depths=(1, 1, 2, 2),"
                                    "widths=[8,16,32,64], paper='a, b', x=none, y=TRUE")
    assert name == "resnet18"
    assert kwargs == {"stem_pool": False, "drop_rate": 0.5, "depths": (1, 1, 2, 2), "widths": [8, 16, 32, 64],
                      "paper": "a, b", "x": None, "y": True}
    assert parse_model_spec("resnet18") == parse_model_spec("resnet18:") == ("resnet18", {})


@pytest.mark.parametrize("spec,message", [
    ("", "names no model"),
    (":C=8", "names no model"),
    ("resnet18:0.5", "'0.5' is not key=value"),
    ("resnet18:C=1,C=2", "C is given twice"),
    ("resnet18:1x=3", "'1x'.*not an argument name"),
    ("resnet18:depths=(1,2", "unclosed '\\)'"),
    ("resnet18:depths=1,2)", "unbalanced"),
    ("resnet18:stem_width=", "stem_width= has no value"),
    ("resnet18:depths=[1,,]", "depths=\\[1,,\\] is not a Python literal"),
])
def test_malformed_specs_name_the_bad_part(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_model_spec(spec)
    with pytest.raises(ConfigError, match=message):
        create_model_from_spec(spec)


def test_not_a_string() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        create_model_from_spec(["resnet18"])


@torch.no_grad()
def test_builds_what_torchvision_builds_for_the_same_arguments() -> None:
    """``resnet18:depths=(1, 1, 1, 1)`` with num_classes=10 has torchvision's ResNet(BasicBlock, [1, 1, 1, 1])
    parameter count; overrides win over the spec's own values."""
    model = create_model_from_spec("resnet18:depths=(1, 1, 1, 1)", num_classes=10)
    assert params(model) == params(ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10))
    half = cnnlab.create_model_from_spec("mobilenet_v2:width_multiplier=0.5,num_classes=5", num_classes=7)
    assert params(half) == params(torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=7))
    assert half.model_name == "mobilenet_v2"


def test_a_model_records_the_spec_it_was_built_from() -> None:
    """``model_spec`` is the spec string (training checkpoints store it; export rebuilds the network from it):
    rebuilt from it, the network has the same parameters as torchvision's ResNet(BasicBlock, [1, 1, 1, 1])."""
    spec = "resnet18:depths=(1, 1, 1, 1),num_classes=10"
    with torch.device("meta"):
        model = create_model_from_spec(spec)
        assert model.model_spec == spec and model.model_name == "resnet18"
        assert params(create_model_from_spec(model.model_spec)) == params(ResNet(BasicBlock, [1, 1, 1, 1],
                                                                                 num_classes=10))
        assert create_model_from_spec("resnet18:features_only=true").model_spec == "resnet18:features_only=true"
        assert cnnlab.create_model("resnet18").model_spec is None  # a name alone: no spec was given


def test_bad_arguments_name_the_spec_and_the_key() -> None:
    with pytest.raises(ConfigError, match="model spec 'mobilenet_v2:widht=0.5'.*widht.*build_mobilenet_v2"):
        create_model_from_spec("mobilenet_v2:widht=0.5")
    with pytest.raises(ConfigError, match="model spec 'resnet18:stem_width=-3'.*stem_width.*-3"):
        create_model_from_spec("resnet18:stem_width=-3")
    with pytest.raises(ConfigError, match="model spec 'resnet18:stem=deep'.*stem.*deep"):
        create_model_from_spec("resnet18:stem=deep")
    with pytest.raises(ConfigError, match="unknown model name 'resnt18'.*resnet18"):
        create_model_from_spec("resnt18:num_classes=3")
    with pytest.raises(ConfigError, match="model spec 'resnet18_a:pretrained=true'.*no published weights"):
        create_model_from_spec("resnet18_a:pretrained=true")


def test_features_only_and_weights_through_a_spec(tmp_path) -> None:
    state = cnnlab.create_model("resnet18", num_classes=3).state_dict()
    path = tmp_path / "w.pt"
    torch.save(state, path)
    model = create_model_from_spec(f"resnet18:num_classes=3,checkpoint={path}")
    torch.testing.assert_close(model.state_dict()["head.fc.weight"], state["head.fc.weight"])
    with torch.device("meta"):
        assert len(create_model_from_spec("resnet18:features_only=true").feature_info) == 4


def test_compare_reads_specs_through_the_registry() -> None:
    assert parse_model_arg("nasnet:genotype=runs/x/best.json,C=8,N=1") == (
        "nasnet", {"genotype": "runs/x/best.json", "C": 8, "N": 1}, "nasnet-best-C8-N1")
    spec = spec_from_registry("resnet18:depths=(1, 1, 1, 1)")
    assert spec.name == "resnet18-depths(1,1,1,1)"
    assert params(spec.build(10, 3)) == params(ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10))
    with pytest.raises(ConfigError, match="model spec 'resnet18:depths=\\(0,\\)'.*depths"):
        spec_from_registry("resnet18:depths=(0,)")


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: not keyword.iskeyword(k) and k.lower() not in ("true", "false", "none"))
values = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: v != int(v)),
                   st.booleans(), st.none(), identifiers.map(lambda s: f"p/{s}.json"),
                   st.tuples(st.integers(0, 9), st.integers(0, 9)))


@given(st.dictionaries(identifiers, values, max_size=5))
def test_any_written_spec_reads_back(kwargs: dict) -> None:
    """A spec written from Python values (``repr``, booleans and None lower-case) parses back to them."""
    def text(v: object) -> str:
        return str(v).lower() if v is None or isinstance(v, bool) else (v if isinstance(v, str) else repr(v))

    spec = "net:" + ",".join(f"{k}={text(v)}" for k, v in kwargs.items())
    assert parse_model_spec(spec) == ("net", kwargs)
