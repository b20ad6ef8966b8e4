"""A weights file torch cannot load with ``weights_only=True`` is one clear ConfigError naming the file and
what is wrong with it, and never relays torch's advice to retry with ``weights_only=False`` (that runs code
from the file: a planted state file). torch itself is the reference: it refuses every such file."""

from __future__ import annotations

import io
import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnlab
from cnnlab import ConfigError
from cnnlab.nets.weights import read_state_dict


class Planted:
    """An object whose unpickling needs this module's code."""


def refused(path) -> str:
    with pytest.raises(Exception):  # noqa: B017, PT011 - the reference: torch refuses it too (its types vary)
        torch.load(path, weights_only=True)
    with pytest.raises(ConfigError) as err:
        read_state_dict(path)
    message = str(err.value)
    assert str(path) in message and "weights_only=False" not in message and "`False`" not in message
    assert len(message.splitlines()) == 1, message
    return message


def test_random_bytes_are_not_a_torch_file(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(random.Random(0).randbytes(4096))
    assert "not a torch file" in refused(path)


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    assert "empty" in refused(path)


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_file_holding_objects_is_refused_without_running_them(tmp_path, zip_format):
    path = tmp_path / "planted.pth"
    torch.save({"conv.weight": Planted()}, path, _use_new_zipfile_serialization=zip_format)
    message = refused(path)
    assert "Python objects other than tensors" in message and "model.state_dict()" in message


def test_a_truncated_archive_says_so(tmp_path):
    buffer = io.BytesIO()
    torch.save(cnnlab.create_model("resnet18", num_classes=3).state_dict(), buffer)
    path = tmp_path / "truncated.pth"
    path.write_bytes(buffer.getvalue()[:4096])
    assert "zip archive" in refused(path)


def test_a_folder_is_not_said_to_be_missing(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        read_state_dict(tmp_path)


@given(st.binary(min_size=1, max_size=256))
def test_any_bytes_give_a_config_error_without_the_advice(data):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.pth"
        path.write_bytes(data)
        try:
            read_state_dict(path)
        except ConfigError as err:
            assert "weights_only=False" not in str(err) and "`False`" not in str(err)
