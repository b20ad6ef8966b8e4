"""The published-facts table against torchvision's own weight metadata and the papers."""

from __future__ import annotations

import pytest

from cnnlab.compare import all_published, published_facts

tv_models = pytest.importorskip("torchvision.models")


def test_every_entry_has_a_source_and_plausible_numbers():
    facts = all_published()
    assert len(facts) >= 10
    for name, entry in facts.items():
        assert entry.source.strip(), name
        assert 0.0 < entry.top1 < 100.0, name
        assert entry.macs > 1e7 and entry.params > 1e5, name


def _tv_meta(name: str) -> dict | None:
    try:
        weights = tv_models.get_model_weights(name)
    except ValueError:
        return None
    return weights.IMAGENET1K_V1.meta


def test_entries_match_torchvision_weight_metadata():
    """torchvision ships the model: top-1, MACs ('_ops', in G) and params equal its IMAGENET1K_V1 meta."""
    checked = 0
    for name, entry in all_published().items():
        meta = _tv_meta(name)
        if meta is None:
            assert "torchvision" not in entry.source, name
            continue
        assert entry.top1 == pytest.approx(meta["_metrics"]["ImageNet-1K"]["acc@1"], abs=1e-9), name
        assert entry.macs == round(meta["_ops"] * 1e9), name
        assert entry.params == meta["num_params"], name
        assert "torchvision" in entry.source, name
        checked += 1
    assert checked >= 10


def test_lecture_networks_present():
    for name in ("resnet18", "resnet50", "vgg11_bn", "vgg16", "googlenet", "mobilenet_v2", "mobilenet_v1"):
        assert published_facts(name) is not None, name
    assert published_facts("root_resnet18") is None  # ScratchDet reports PASCAL VOC mAP only


def test_mobilenet_v1_paper_numbers():
    # Howard et al. 2017, MobileNets, Table 8: 1.0 MobileNet-224, 70.6% top-1, 569M mult-adds, 4.2M params
    entry = published_facts("mobilenet_v1")
    assert (entry.top1, entry.macs, entry.params) == (70.6, 569_000_000, 4_200_000)
    assert "Table 8" in entry.source


def test_published_params_match_torchvision_models_built_on_meta_device():
    """An independent count: torchvision's architectures built without memory have these params."""
    import torch

    for name in ("resnet18", "mobilenet_v2", "googlenet"):
        with torch.device("meta"):
            kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
            model = tv_models.get_model(name, weights=None, **kwargs)
        assert sum(p.numel() for p in model.parameters()) == published_facts(name).params, name
