"""``create_model(name, pretrained=True)``: the published file downloaded through torch hub's cache with its
hash checked, keys converted, outputs equal to torchvision's model with the same weights. No internet here:
a loopback HTTP server serves torchvision-format files built in the test, named as torchvision names them
(``resnet18-<first 8 hex digits of the sha256>.pth``); TORCH_HOME points into tmp_path."""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import http.server
import io
import socket
import threading
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import get_model_weights

import cnnlab
from cnnlab import ConfigError
from cnnlab.nets import published, registry
from cnnlab.nets.published import PublishedWeights, torchvision_weights


class Planted:
    """A class a weights-only load must refuse to rebuild."""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(folder served, its base URL) on 127.0.0.1; TORCH_HOME in tmp_path; no proxy in the way."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so a wrongly mapped BN shows in the outputs."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def publish(root: Path, base: str, stem: str, state: dict, monkeypatch, name: str) -> PublishedWeights:
    """Save ``state`` as torchvision names its files and make it ``name``'s published weights."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    prefix = hashlib.sha256(data).hexdigest()[:8]
    (root / f"{stem}-{prefix}.pth").write_bytes(data)
    weights = PublishedWeights(f"{base}{stem}-{prefix}.pth", prefix, "torchvision",
                               build=registry._entry(name).published.build)
    use(name, weights, monkeypatch)
    return weights


def use(name: str, weights: PublishedWeights, monkeypatch) -> None:
    monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(registry._entry(name), published=weights))


@torch.no_grad()
def test_resnet18_downloads_once_then_loads_from_the_cache(server, monkeypatch) -> None:
    root, base = server
    theirs = randomise_bn(torchvision.models.resnet18()).eval()
    weights = publish(root, base, "resnet18", theirs.state_dict(), monkeypatch, "resnet18")
    ours = cnnlab.create_model("resnet18", pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    assert ours.model_name == "resnet18"
    cached = cache_dir() / weights.file_name
    assert cached.is_file() and cached.read_bytes() == (root / weights.file_name).read_bytes()
    # the cache is torch hub's own: torchvision's loader finds the file there without a download
    (root / weights.file_name).unlink()
    assert torch.hub.load_state_dict_from_url(weights.url, check_hash=True, weights_only=True).keys() == \
        theirs.state_dict().keys()
    again = cnnlab.create_model("resnet18", pretrained=True, features_only=True).eval()
    assert [f.shape[1] for f in again(x)] == [64, 128, 256, 512]


@torch.no_grad()
def test_another_num_classes_gets_a_fresh_classifier(server, monkeypatch) -> None:
    root, base = server
    theirs = randomise_bn(torchvision.models.resnet18()).eval()
    publish(root, base, "resnet18", theirs.state_dict(), monkeypatch, "resnet18")
    ours = cnnlab.create_model("resnet18", pretrained=True, num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    assert ours(x).shape == (2, 10) and ours.num_classes == 10
    theirs.fc = nn.Identity()
    torch.testing.assert_close(ours.forward_head(ours.forward_features(x), pre_logits=True), theirs(x),
                               atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_googlenet_as_torchvision_builds_it_for_its_weights(server, monkeypatch) -> None:
    """torchvision builds its pretrained GoogLeNet with transform_input=True and aux heads in the file,
    dropped unless asked for (torchvision.models.googlenet(weights=...))."""
    root, base = server
    theirs = randomise_bn(torchvision.models.googlenet(aux_logits=True, transform_input=True, init_weights=True))
    publish(root, base, "googlenet", theirs.state_dict(), monkeypatch, "googlenet")
    theirs.eval()
    x = torch.randn(2, 3, 64, 64)
    ours = cnnlab.create_model("googlenet", pretrained=True).eval()
    assert ours.aux1 is None
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    with_aux = cnnlab.create_model("googlenet", pretrained=True, aux_logits=True)
    torch.testing.assert_close(with_aux.aux1.fc2.weight, theirs.aux1.fc2.weight)


def test_a_wrong_hash_is_refused_and_nothing_is_cached(server, monkeypatch) -> None:
    root, base = server
    torch.save(torchvision.models.resnet18().state_dict(), root / "resnet18-deadbeef.pth")
    use("resnet18", PublishedWeights(f"{base}resnet18-deadbeef.pth", "deadbeef", "torchvision"), monkeypatch)
    with pytest.raises(ConfigError, match="sha256.*deadbeef"):
        cnnlab.create_model("resnet18", pretrained=True)
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_offline_without_a_cached_file_says_how_to_pass_the_weights(tmp_path, monkeypatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/resnet18-f37072fd.pth"
    use("resnet18", PublishedWeights(url, "f37072fd", "torchvision"), monkeypatch)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with pytest.raises(ConfigError) as err:
        cnnlab.create_model("resnet18", pretrained=True)
    message = str(err.value)
    assert "could not download" in message and url in message
    assert "checkpoint='path/to/resnet18-f37072fd.pth'" in message
    assert str(cache_dir() / "resnet18-f37072fd.pth") in message


def test_an_unreadable_or_planted_cached_file_is_refused(monkeypatch) -> None:
    weights = PublishedWeights("http://127.0.0.1:9/resnet18-f37072fd.pth", "f37072fd", "torchvision")
    use("resnet18", weights, monkeypatch)
    cache_dir().mkdir(parents=True)
    cached = cache_dir() / weights.file_name
    cached.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="could not be read.*delete it"):
        cnnlab.create_model("resnet18", pretrained=True)
    torch.save({"conv1.weight": Planted()}, cached)  # a pickle that needs this module's code to load
    with pytest.raises(ConfigError, match="weights_only=True"):
        cnnlab.create_model("resnet18", pretrained=True)


def test_models_without_published_weights_and_bad_combinations() -> None:
    for name in ("resnet50_v1", "mobilenet_v1", "googlenet_paper", "nasnet"):
        with pytest.raises(ConfigError, match="no published weights.*checkpoint="):
            cnnlab.create_model(name, pretrained=True)
    with pytest.raises(ConfigError, match="not both"):
        cnnlab.create_model("resnet18", pretrained=True, checkpoint={})
    with pytest.raises(ConfigError, match="in_chans=3.*in_chans=1"):
        cnnlab.create_model("resnet18", pretrained=True, in_chans=1)
    with pytest.raises(ConfigError, match="pretrained must be True or False"):
        cnnlab.create_model("resnet18", pretrained="yes")


def test_the_table_is_torchvisions() -> None:
    """Every published file is torchvision's IMAGENET1K_V1 (what its pretrained=True loads), hash included."""
    names = [n for n in cnnlab.list_models() if registry._entry(n).published is not None]
    assert len(names) == 19
    for name in names:
        weights = registry._entry(name).published
        assert weights.url == get_model_weights(name).IMAGENET1K_V1.url, name
        assert weights.source == "torchvision" and weights.url.endswith(f"-{weights.sha256}.pth")
        assert weights.file_name == weights.url.rsplit("/", 1)[1]


def test_published_weights_records() -> None:
    """A URL without its hash gets one in the cached name (so torch hub checks it); a table whose hash
    disagrees with the file name, or without a hash, is refused."""
    hf = PublishedWeights("https://example.org/timm/model/pytorch_model.bin", "0123abcd", "timm")
    assert hf.file_name == "pytorch_model-0123abcd.bin"
    assert torch.hub.HASH_REGEX.search(hf.file_name).group(1) == "0123abcd"
    with pytest.raises(ConfigError, match="f37072fd"):
        PublishedWeights("https://download.pytorch.org/models/resnet18-f37072fd.pth", "00000000", "torchvision")
    with pytest.raises(ConfigError, match="hex digits"):
        PublishedWeights("https://example.org/x.pth", "abc", "torchvision")
    with pytest.raises(ConfigError, match="sha256 prefix"):
        torchvision_weights("resnet18.pth")
    assert torchvision_weights("vgg16-397923af.pth").sha256 == "397923af"


def test_the_download_checks_the_hash_and_loads_weights_only() -> None:
    """The one call that reads a published file: check_hash=True, weights_only=True (literally)."""
    tree = ast.parse(Path(published.__file__).read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") ==
             "load_state_dict_from_url"]
    assert len(calls) == 1
    flags = {k.arg: k.value.value for k in calls[0].keywords if isinstance(k.value, ast.Constant)}
    assert flags["check_hash"] is True and flags["weights_only"] is True
