"""The registry contract: names, errors, checkpoints, features_only, and the network protocol."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnlab
from cnnlab import ConfigError
from cnnlab.nets import model_info, registry
from cnnlab.nets.weights import load_weights

OWN_FAMILIES = {"vgg", "googlenet", "resnet", "mobilenet_v1", "mobilenet_v2", "shufflenet"}


def test_list_models_fnmatch_sorted() -> None:
    names = cnnlab.list_models("resnet*")
    assert names == sorted(names)
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50_v1"} <= set(names)
    assert all(n.startswith("resnet") for n in names)
    assert cnnlab.list_models("vgg1?_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    everything = set(cnnlab.list_models())
    required = {"googlenet", "googlenet_paper", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2",
                "wide_resnet101_2", "resnet18_a", "resnet18_b", "root_resnet18", "mobilenet_v1",
                "mobilenet_v2", "resnet101_v1", "resnet152_v1"}
    assert required <= everything


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(ConfigError, match="resnet50") as err:
        cnnlab.create_model("resnet05")
    assert "unknown model name" in str(err.value)


def test_pretrained_without_published_weights_is_refused_with_a_hint() -> None:
    """(Downloads of published weights: tests/nets/test_published.py, against a loopback server.)"""
    with pytest.raises(ConfigError, match="resnet18_a.*checkpoint=.*resnet18"):
        cnnlab.create_model("resnet18_a", pretrained=True)


def test_unknown_keyword_names_it_and_the_builder() -> None:
    with pytest.raises(ConfigError, match="widht_multiplier.*build_mobilenet_v2"):
        cnnlab.create_model("mobilenet_v2", widht_multiplier=0.5)


def test_a_name_is_registered_once(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    first = registry._entry("resnet18")
    with pytest.raises(ConfigError, match="'resnet18' is already registered.*cnnlab.nets.resnet"):
        registry.register_model(lambda: nn.Identity(), name="resnet18")
    with pytest.raises(ConfigError, match="'vgg11' is already registered"):
        registry.register_variant("vgg11", lambda **kw: nn.Identity(), family="toy", paper="none")
    assert registry._entry("resnet18") is first


def test_a_provider_that_fails_halfway_registers_afresh_on_retry(tmp_path, monkeypatch) -> None:
    """What a provider registered before it failed is forgotten, so a retry is no duplicate."""
    (tmp_path / "halfway_provider.py").write_text(
        "import os\n"
        "from torch import nn\n"
        "from cnnlab.nets.registry import register_model\n"
        "@register_model(family='toy')\n"
        "def halfway_net() -> nn.Module:\n"
        "    return nn.Identity()\n"
        "if os.environ.get('HALFWAY_FAIL'):\n"
        "    raise RuntimeError('provider failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_providers_loaded", False)
    monkeypatch.setattr(registry, "PROVIDER_MODULES", ("halfway_provider",))
    monkeypatch.setenv("HALFWAY_FAIL", "1")
    with pytest.raises(RuntimeError, match="provider failed"):
        registry.list_models()
    assert "halfway_net" not in registry._REGISTRY
    monkeypatch.delenv("HALFWAY_FAIL")
    assert registry.list_models("halfway*") == ["halfway_net"]
    monkeypatch.delitem(__import__("sys").modules, "halfway_provider")


def test_model_name_is_declared_and_set_by_create_model(monkeypatch) -> None:
    from cnnlab.nets.base import ZooNet
    from cnnlab.nets.resnet import build_resnet

    assert "model_name" in ZooNet.__annotations__ and ZooNet.model_name is None
    with torch.device("meta"):
        assert build_resnet().model_name is None  # built directly: no registered name
        assert cnnlab.create_model("resnet18_a").model_name == "resnet18_a"
        assert cnnlab.create_model("nasnet").model_name == "nasnet"
        assert cnnlab.create_model("resnet18", features_only=True).model_name == "resnet18"
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_model(lambda: nn.Linear(2, 2), name="plain_linear")
    assert not hasattr(cnnlab.create_model("plain_linear"), "model_name")  # nothing patched onto other modules


def test_model_info() -> None:
    info = model_info("resnet50_v1")
    assert info["family"] == "resnet"
    assert "He et al. 2016" in info["paper"]
    assert info["default_config"]["stride_on"] == "1x1"
    assert info["default_config"]["depths"] == (3, 4, 6, 3)


def test_provider_import_errors(monkeypatch) -> None:
    """A missing NAS provider is skipped; any other import failure propagates."""
    monkeypatch.setattr(registry, "_providers_loaded", False)
    monkeypatch.setattr(registry, "PROVIDER_MODULES", ("cnnlab.nets.resnet", "cnnlab.nas.models_not_here"))
    monkeypatch.setattr(registry, "_OPTIONAL_PROVIDERS", ("cnnlab.nas.models_not_here",))
    assert "resnet18" in registry.list_models()
    monkeypatch.setattr(registry, "_providers_loaded", False)
    monkeypatch.setattr(registry, "PROVIDER_MODULES", ("cnnlab.nets.no_such_family",))
    with pytest.raises(ModuleNotFoundError):
        registry.list_models()
    monkeypatch.setattr(registry, "_providers_loaded", True)


def test_register_model_decorator(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @registry.register_model(family="toy", paper="none")
    def toy_net(num_classes: int = 10) -> nn.Module:
        return nn.Linear(4, num_classes)

    assert cnnlab.list_models("toy*") == ["toy_net"]
    assert cnnlab.create_model("toy_net", num_classes=3).out_features == 3
    with pytest.raises(ConfigError, match="depth"):
        cnnlab.create_model("toy_net", depth=3)


@torch.no_grad()
def test_bad_checkpoint_leaves_model_unchanged(tmp_path) -> None:
    model = cnnlab.create_model("resnet18", num_classes=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torchvision.models.resnet18(num_classes=10).state_dict()
    state.pop("layer2.0.bn1.weight")
    state["layer1.0.conv1.weight"] = torch.zeros(3, 3, 3, 3)
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ConfigError) as err:
        load_weights(model, state, family="resnet")
    message = str(err.value)
    assert "missing" in message and "stages.1.0.conv1.bn.weight" in message
    assert "unexpected" in message and "extra.weight" in message
    assert "shape mismatch" in message and "stages.0.0.conv1.conv.weight" in message
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # a classifier of another size: the hint says how to proceed
    with pytest.raises(ConfigError, match="reset_classifier"):
        cnnlab.create_model("resnet18", checkpoint=torchvision.models.resnet18(num_classes=10).state_dict())
    # not a state dict, not a file, not a torch file
    with pytest.raises(ConfigError, match="does not exist"):
        cnnlab.create_model("resnet18", checkpoint=str(tmp_path / "none.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not be read"):
        cnnlab.create_model("resnet18", checkpoint=junk)
    with pytest.raises(ConfigError, match="not a tensor"):
        cnnlab.create_model("resnet18", checkpoint={"conv1.weight": 3})


@torch.no_grad()
def test_features_only_returns_stage_outputs() -> None:
    features = cnnlab.create_model("resnet50", features_only=True).eval()
    x = torch.randn(1, 3, 64, 64)
    outs = features(x)
    assert [o.shape[1] for o in outs] == [f["num_chs"] for f in features.feature_info] == [256, 512, 1024, 2048]
    assert [64 // o.shape[-1] for o in outs] == [f["reduction"] for f in features.feature_info] == [4, 8, 16, 32]


@torch.no_grad()
def test_protocol_head_and_reset() -> None:
    model = cnnlab.create_model("mobilenet_v2", num_classes=10, in_chans=1).eval()
    x = torch.randn(2, 1, 40, 40)
    feats = model.forward_features(x)
    assert feats.shape[1] == model.feature_info[-1]["num_chs"]
    torch.testing.assert_close(model.forward_head(feats), model(x))
    assert model.forward_head(feats, pre_logits=True).shape == (2, 1280)
    model.reset_classifier(7)
    assert model.num_classes == 7 and model(x).shape == (2, 7)
    model.reset_classifier(0)
    assert model(x).shape == (2, 1280)
    with pytest.raises(ConfigError, match="in_chans=1"):
        model(torch.randn(1, 3, 40, 40))


def test_input_smaller_than_the_network_is_a_config_error() -> None:
    vgg = cnnlab.create_model("vgg11", num_classes=2, hidden=16).eval()
    with pytest.raises(ConfigError, match="minimum 32x32"):
        vgg(torch.randn(1, 3, 31, 31))


def test_training_batch_of_one_at_a_one_pixel_map_is_a_config_error() -> None:
    model = cnnlab.create_model("resnet18", num_classes=2).train()
    x = torch.randn(1, 3, 32, 32)  # the last stage's map is 1x1: BatchNorm sees one value per channel
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.functional.batch_norm(torch.randn(1, 4, 1, 1), None, None, training=True)  # torch's own rule
    with pytest.raises(ConfigError, match="batch of 1 at \\(32, 32\\)"):
        model(x)
    assert model.eval()(x).shape == (1, 2) and model.train()(torch.randn(2, 3, 32, 32)).shape == (2, 2)


def _materialise(model: nn.Module) -> nn.Module:
    """Meta-built model -> CPU with constant weights (skips the slow random init of big nets)."""
    model.to_empty(device="cpu")
    with torch.no_grad():
        for name, t in (*model.named_parameters(), *model.named_buffers()):
            t.fill_(1.0 if name.endswith(("running_var", "bn.weight")) else 0.01)
    return model


@pytest.mark.parametrize("name", cnnlab.list_models())
@torch.no_grad()
def test_every_registered_model_builds_and_runs(name: str) -> None:
    with torch.device("meta"):
        model = cnnlab.create_model(name, num_classes=10)
    model = _materialise(model).eval()
    in_chans = getattr(model, "in_chans", 3)
    size = max(32, getattr(model, "min_input_size", 1))
    out = model(torch.randn(1, in_chans, size, size))
    assert out.shape == (1, 10)
    if model_info(name)["family"] in OWN_FAMILIES:
        assert isinstance(model.stages, nn.Sequential) and all(isinstance(s, nn.Sequential) for s in model.stages)
        assert len(model.feature_info) == len(model.stages) and model.stage_specs
        feats = model.forward_features(torch.randn(1, in_chans, size, size))
        assert feats.shape[1] == model.feature_info[-1]["num_chs"]
