"""Weights other libraries publish for cnnlab's networks, fetched the way torchvision fetches them.

A family lists its models' published files next to the models (``RESNET_WEIGHTS`` in ``nets/resnet.py``,
...); ``create_model(name, pretrained=True)`` downloads one through torch hub's cache
(``$TORCH_HOME/hub/checkpoints``, shared with torchvision: a file torchvision already downloaded is not
fetched again) with ``check_hash=True``: the hex digits after the last ``-`` of the cached file's name are
the start of its sha256, and a download whose digest does not start with them is refused.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.error import URLError
from urllib.parse import urlparse

from cnnlab.errors import ConfigError

__all__ = ["TORCHVISION_URL", "PublishedWeights", "fetch_published", "torchvision_weights"]

TORCHVISION_URL = "https://download.pytorch.org/models/"
_HASH = re.compile(r"-([a-f0-9]*)\.")  # torch.hub.HASH_REGEX: the hash prefix torch hub reads from a file name
_MIN_HASH_DIGITS = 8  # torchvision's names carry 8 hex digits (32 bits of the sha256)


@dataclass(frozen=True)
class PublishedWeights:
    """One published file: its URL, the start of its sha256, whose key layout it has (``source``), the
    classifier and input it was trained with, and builder arguments it needs (``build``)."""

    url: str
    sha256: str
    source: str
    num_classes: int = 1000
    in_chans: int = 3
    build: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if urlparse(self.url).scheme not in ("http", "https", "file"):
            raise ConfigError(f"published weights: {self.url!r} is not an http(s) or file URL")
        if not re.fullmatch(rf"[0-9a-f]{{{_MIN_HASH_DIGITS},64}}", self.sha256):
            raise ConfigError(f"published weights {self.url!r}: sha256 prefix {self.sha256!r} is not "
                              f"{_MIN_HASH_DIGITS} to 64 lowercase hex digits")
        found = _HASH.search(self._url_name)
        if found and found.group(1) and found.group(1) != self.sha256:
            raise ConfigError(f"published weights {self.url!r}: its name carries the hash {found.group(1)!r}, "
                              f"the table says {self.sha256!r}")

    @property
    def _url_name(self) -> str:
        return posixpath.basename(urlparse(self.url).path)

    @property
    def file_name(self) -> str:
        """The name in torch hub's cache: the URL's own when it carries the hash (torchvision's), else
        ``stem-<sha256>.suffix``, so torch hub checks the hash of every download."""
        name = self._url_name
        found = _HASH.search(name)
        if found and found.group(1) == self.sha256:
            return name
        stem, dot, suffix = name.partition(".")
        return f"{stem}-{self.sha256}{dot}{suffix or 'pth'}"

    def arguments(self, kwargs: Mapping[str, Any], where: str) -> tuple[dict[str, Any], int | None]:
        """Builder arguments for these weights and the classifier size to reset to after loading (None: keep).

        ``num_classes`` other than the weights' builds their classifier, loads, then resets it (as timm does);
        ``in_chans`` other than the weights' is refused: the first convolution would not fit.
        """
        merged = {**self.build, **kwargs}
        in_chans = merged.get("in_chans", self.in_chans)
        if in_chans != self.in_chans:
            raise ConfigError(f"{where}: the published weights ({self.url}) are for in_chans={self.in_chans}, "
                              f"got in_chans={in_chans!r}; build with in_chans={self.in_chans}, or pass weights "
                              f"for {in_chans!r} channels with checkpoint=...")
        reset = merged.get("num_classes", self.num_classes)
        merged["num_classes"] = self.num_classes
        return merged, None if reset == self.num_classes else reset


def torchvision_weights(file_name: str, **build: Any) -> PublishedWeights:
    """A file of ``download.pytorch.org/models`` (its name ends in the sha256 prefix, e.g.
    ``resnet18-f37072fd.pth``), ImageNet-1k, 3 channels."""
    found = _HASH.search(file_name)
    if not found or not found.group(1):
        raise ConfigError(f"torchvision weights file name {file_name!r} carries no sha256 prefix")
    return PublishedWeights(TORCHVISION_URL + file_name, found.group(1), "torchvision", build=build)


def _first_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason).strip().splitlines()
    return text[0] if text else type(exc).__name__


def fetch_published(name: str, weights: PublishedWeights, progress: bool = True) -> dict[str, Any]:
    """The state dict of ``weights``, from torch hub's cache or downloaded into it with the hash checked.

    Every failure is a ConfigError: a wrong hash (the download is deleted), no connection and no cached file
    (the message gives the URL to fetch by hand and the ``checkpoint=`` to pass), an unreadable cached file.
    """
    import torch

    from cnnlab.nets.weights import unreadable_reason

    cache = os.path.join(torch.hub.get_dir(), "checkpoints")
    cached = os.path.join(cache, weights.file_name)
    where = f"create_model({name!r}, pretrained=True)"
    try:
        return torch.hub.load_state_dict_from_url(weights.url, model_dir=cache, map_location="cpu",
                                                  progress=progress, check_hash=True,
                                                  file_name=weights.file_name, weights_only=True)
    except RuntimeError as exc:
        if "invalid hash value" in str(exc):
            raise ConfigError(f"{where}: the file downloaded from {weights.url} does not have the published "
                              f"sha256 (expected it to start with {weights.sha256}; {_first_line(exc)}); it "
                              "was not kept") from None
        if os.path.exists(cached):
            raise ConfigError(f"{where}: the cached file {cached} could not be read "
                              f"({unreadable_reason(cached, exc)}); delete it to download it again") from None
        raise
    except (URLError, TimeoutError, ConnectionError) as exc:
        raise ConfigError(
            f"{where}: could not download {weights.url} ({_first_line(exc)}) and torch hub's cache has no "
            f"{cached}. Download the file by hand from {weights.url} and pass "
            f"checkpoint='path/to/{weights.file_name}' (or put it at {cached})") from None
    except OSError as exc:  # the cache folder is not writable, the disk is full, ...
        raise ConfigError(f"{where}: could not store {weights.url} in torch hub's cache {cache}: "
                          f"{_first_line(exc)}; set TORCH_HOME to a writable folder, or download the file by "
                          f"hand and pass checkpoint='path/to/{weights.file_name}'") from None
    except Exception as exc:  # torch.load's refusal of a cached file that is not a weights-only torch file
        if os.path.exists(cached):
            raise ConfigError(f"{where}: the cached file {cached} could not be read as a torch file with "
                              f"weights_only=True ({unreadable_reason(cached, exc)}); delete it to download it "
                              "again") from None
        raise
