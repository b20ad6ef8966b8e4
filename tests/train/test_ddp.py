"""Two CPU processes under torchrun (gloo, loopback): DDP trains, and rank 0 alone writes the run files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("sklearn")
torch_dist = pytest.importorskip("torch.distributed")
if not torch_dist.is_available() or not torch_dist.is_gloo_available():
    pytest.skip("torch built without gloo", allow_module_level=True)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from torch import nn
    from cnnlab.data import make_loaders
    from cnnlab.train import TrainConfig, fit

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    bundle = make_loaders("digits", batch_size=32, seed=0)
    result = fit(model, bundle, TrainConfig(epochs=1, batch_size=32, lr=0.1, device="cpu"),
                 out_dir=sys.argv[1], progress=False)
    import os
    print("RESULT " + json.dumps({"rank": int(os.environ["RANK"]), "world_size": result.world_size,
                                  "test_acc": result.test_acc, "epochs": result.epochs}), flush=True)
    """
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    out_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(script), str(out_dir)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    results = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world_size"] == 2 and r["epochs"] == 1 for r in results)
    assert results[0]["test_acc"] == pytest.approx(results[1]["test_acc"])  # metrics are all-reduced
    assert sorted(os.listdir(out_dir)) == ["checkpoint.pt", "config.json", "metrics.jsonl", "result.json"]
    assert len((out_dir / "metrics.jsonl").read_text().splitlines()) == 1
    import torch

    assert torch.load(out_dir / "checkpoint.pt", weights_only=True)["world_size"] == 2
