"""fit into a folder that already holds a run: the same run continues, another one is refused (nothing
trained is overwritten), ``overwrite=True`` starts afresh, ``resume=True`` insists on a checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.train import TrainConfig, fit
from cnnlab.train.checkpoint import state_dict_mismatch

pytest.importorskip("sklearn")
CONFIG = TrainConfig(epochs=2, batch_size=64, lr=0.05, device="cpu")


@pytest.fixture(scope="module")
def digits():
    return make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0, limit_train=320, limit_test=128)


def _stop_after_first(epoch, record):
    return True


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_finished_run_is_not_trained_again(digits, tmp_path, make_tiny_net):
    first = fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    before = _mtimes(tmp_path)
    again = fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)  # no resume=True
    assert again.already_finished and again.resumed_epochs == 2
    assert again.history == first.history and again.test_acc == first.test_acc
    assert _mtimes(tmp_path) == before  # not a byte written


def test_an_interrupted_run_continues_without_being_asked(digits, tmp_path, make_tiny_net):
    torch.manual_seed(0)
    straight = fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "straight", progress=False)
    torch.manual_seed(0)
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "split", progress=False, on_epoch_end=_stop_after_first)
    resumed = fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "split", progress=False)
    assert resumed.resumed_epochs == 1 and not resumed.already_finished
    assert [h["val_acc"] for h in resumed.history] == [h["val_acc"] for h in straight.history]


def test_another_config_is_refused_naming_both_values_and_the_way_out(digits, tmp_path, make_tiny_net):
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    before = _mtimes(tmp_path)
    other = TrainConfig(epochs=2, batch_size=64, lr=0.02, weight_decay=0.0, device="cpu")
    with pytest.raises(ConfigError) as caught:
        fit(make_tiny_net(), digits, other, out_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert "lr: run 0.05, now 0.02" in message and "weight_decay: run 0.0005, now 0.0" in message
    assert "--overwrite" in message and "overwrite=True" in message
    assert _mtimes(tmp_path) == before


def test_a_finished_run_of_another_model_is_refused(digits, tmp_path, make_tiny_net):
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    other = nn.Sequential(nn.Conv2d(1, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    other.model_name = "another_net"
    with pytest.raises(ConfigError, match="model: run 'Sequential', now 'another_net'.*params: run"):
        fit(other, digits, CONFIG, out_dir=tmp_path, progress=False)


def test_other_data_is_refused(digits, tmp_path, make_tiny_net):
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False, on_epoch_end=_stop_after_first)
    fewer = make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0, limit_train=256, limit_test=128)
    with pytest.raises(ConfigError, match="train_images: run 320, now 256"):
        fit(make_tiny_net(), fewer, CONFIG, out_dir=tmp_path, progress=False)


def test_overwrite_starts_afresh(digits, tmp_path, make_tiny_net):
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    other = TrainConfig(epochs=1, batch_size=64, lr=0.02, device="cpu")
    result = fit(make_tiny_net(), digits, other, out_dir=tmp_path, progress=False, overwrite=True)
    assert result.resumed_epochs == 0 and len(result.history) == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["config"]["lr"] == 0.02
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    assert json.loads((tmp_path / "result.json").read_text())["config"]["lr"] == 0.02


def test_resume_without_a_checkpoint_says_so(digits, tmp_path, make_tiny_net):
    with pytest.raises(ConfigError, match="nothing to resume.*checkpoint.pt not found"):
        fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "empty", resume=True, progress=False)
    assert not (tmp_path / "empty").exists()
    with pytest.raises(ConfigError, match="exclude each other"):
        fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, resume=True, overwrite=True, progress=False)


def test_a_file_as_run_folder_is_refused(digits, tmp_path, make_tiny_net):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(ConfigError, match="is an existing file, not a folder"):
        fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "taken", progress=False)


def test_random_bytes_are_not_a_checkpoint_and_torch_advice_is_not_relayed(digits, tmp_path, make_tiny_net):
    (tmp_path / "checkpoint.pt").write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                                           dtype=torch.uint8).numpy().tobytes())  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    assert "not a cnnlab checkpoint" in str(caught.value) and "weights_only" not in str(caught.value)
    assert "\n" not in str(caught.value)
    result = fit(make_tiny_net(), digits, TrainConfig(epochs=1, batch_size=64, device="cpu"), out_dir=tmp_path,
                 progress=False, overwrite=True)  # fmt: skip
    assert result.epochs == 1


def test_a_checkpoint_of_another_model_shows_every_mismatch(digits, tmp_path, make_tiny_net):
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False, on_epoch_end=_stop_after_first)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["identity"]  # as written before runs recorded their model: only the weights can tell
    torch.save(state, tmp_path / "checkpoint.pt")
    wider = make_tiny_net()
    wider[9] = nn.Linear(32, 12)  # another head: a shape mismatch
    wider.append(nn.Softmax(dim=1))
    wider[0] = nn.Conv2d(1, 16, 3, padding=1, bias=True)  # a key the checkpoint lacks
    with pytest.raises(ConfigError) as caught:
        fit(wider, digits, CONFIG, out_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert "missing keys (1): 0.bias" in message
    assert "9.weight (10, 32) in the checkpoint, (12, 32) in the model" in message
    assert "9.bias (10,) in the checkpoint, (12,) in the model" in message


def test_mismatch_lists_unexpected_keys_and_counts_the_rest():
    model = nn.Linear(2, 2)
    saved = {"weight": torch.zeros(2, 2), **{f"extra.{i}": torch.zeros(1) for i in range(12)}}
    text = state_dict_mismatch(model, saved)
    assert text.startswith("missing keys (1): bias; unexpected keys (12): extra.0, extra.1")
    assert text.endswith("extra.9 and 2 more")
    assert state_dict_mismatch(model, model.state_dict()) == ""


def test_a_folder_another_process_is_training_into_is_refused(digits, tmp_path, make_tiny_net):
    # a second writer would interleave its checkpoints with the first one's; the folder is flock-ed by the
    # run (another open file description, as another process would have, is refused the same way)
    from cnnlab.locks import hold_folder_lock

    held = hold_folder_lock(tmp_path, "held")
    with pytest.raises(ConfigError, match="is being written by another process; wait for it"):
        fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # refused before anything was written
    held.release()
    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path, progress=False)
    # the run released its lock when it ended: the folder can be taken again
    hold_folder_lock(tmp_path, "held").release()
    # a folder that does not exist yet is locked once it is created
    seen = []

    def try_second_writer(epoch, record):
        with pytest.raises(ConfigError, match="is being written by another process"):
            hold_folder_lock(tmp_path / "new", "is being written by another process")
        seen.append(epoch)

    fit(make_tiny_net(), digits, CONFIG, out_dir=tmp_path / "new", progress=False, on_epoch_end=try_second_writer)
    assert seen == [1, 2]
