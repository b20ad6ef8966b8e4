"""The NAS networks are zoo networks: built by name through the registry, protocol included."""

from __future__ import annotations

import json

import pytest
import torch

import cnnlab
from cnnlab.errors import ConfigError
from cnnlab.nas.spaces import make_space


def test_nasnet_from_best_json_file(tmp_path):
    space = make_space("nasnet", blocks=3)
    genotype = space.decode([0] * len(space.choices))
    path = tmp_path / "best.json"
    path.write_text(json.dumps(genotype))
    model = cnnlab.create_model("nasnet", genotype=str(path), num_classes=10, in_chans=1, C=4, N=1)
    assert model.genotype == genotype
    x = torch.randn(2, 1, 8, 8)
    assert model(x).shape == (2, 10)
    assert model.forward_features(x).shape[1] == model.feature_info[-1]["num_chs"]
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)


def test_nasnet_default_is_nasnet_a_and_features_only():
    model = cnnlab.create_model("nasnet", num_classes=10, in_chans=1, C=4, N=1)
    assert [len(b) for b in (model.genotype["normal"], model.genotype["reduction"])] == [5, 5]
    features = cnnlab.create_model("nasnet", num_classes=10, in_chans=1, C=4, N=1, features_only=True)
    outs = features(torch.randn(1, 1, 16, 16))
    assert [o.shape[1] for o in outs] == [f["num_chs"] for f in features.feature_info]
    assert [16 // o.shape[-1] for o in outs] == [f["reduction"] for f in features.feature_info]


def test_randwire_models_registered():
    assert {"nasnet", "randwire_small", "randwire_tiny"} <= set(cnnlab.list_models())
    tiny = cnnlab.create_model("randwire_tiny")
    assert tiny(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    with torch.device("meta"):
        small = cnnlab.create_model("randwire_small")
    assert small.stage_specs[0]["nodes"] == 32 and small.feature_info[0]["num_chs"] == 78


def test_bad_genotype_through_create_model():
    with pytest.raises(ConfigError, match="unknown op 'conv_9x9'"):
        cnnlab.create_model("nasnet", genotype='{"normal": [{"inputs": [0, 1], "ops": ["conv_9x9", "identity"]}],'
                                                 ' "reduction": [{"inputs": [0, 1], "ops": ["identity", "identity"]}]}')


@pytest.mark.parametrize("name", ["nasnet", "randwire_tiny"])
def test_inspect_works_on_nas_networks(name):
    model = cnnlab.create_model(name, num_classes=10, in_chans=1, C=4)
    report = cnnlab.inspect(model, (1, 1, 28, 28))
    assert report.params == sum(p.numel() for p in model.parameters())  # torch's own count
    assert report.macs > 0
