"""The trainer on a GPU: mixed-precision steps (bf16, and fp16 with a GradScaler) and DistributedDataParallel
over NCCL in one process, through cnnlab's own code (``fit``, ``train_one_epoch``, ``cnnlab.train.distributed``).

Skipped where no CUDA device is present (tests/conftest.py).
"""

from __future__ import annotations

import copy
import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn

from cnnlab.train import TrainConfig, fit

pytestmark = pytest.mark.cuda

pytest.importorskip("sklearn")  # the digits data set


def _tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def _digits(batch_size: int = 32):
    from cnnlab.data import make_loaders

    return make_loaders("digits", batch_size=batch_size, seed=0)


@pytest.mark.parametrize(("amp", "dtype"), [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_amp_training_on_cuda(tmp_path, amp, dtype):
    torch.manual_seed(0)
    model = _tiny_net()
    seen: set[torch.dtype] = set()
    model[0].register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_grad_enabled() else None)
    before = copy.deepcopy(model.state_dict())
    config = TrainConfig(epochs=3, batch_size=32, lr=0.1, amp=amp, device="cuda", seed=0)
    result = fit(model, _digits(), config, out_dir=tmp_path / "run", progress=False)
    assert result.device.startswith("cuda") and next(model.parameters()).is_cuda
    assert seen == {dtype}  # the training forward ran under autocast in that dtype
    assert next(model.parameters()).dtype == torch.float32  # the master weights stay fp32
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in result.history)
    assert not torch.equal(model.state_dict()["0.weight"].cpu(), before["0.weight"])
    assert result.test_acc > 0.5, result.history  # 10 classes: chance is 0.1
    scaler = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=True)["scaler"]
    if amp == "fp16":  # fp16 needs loss scaling; the GradScaler's state is saved with the checkpoint
        assert scaler["scale"] > 0 and "growth_tracker" in scaler
    else:
        assert scaler == {}  # bf16 has fp32's exponent range: no scaler


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nccl_group():
    """A one-process NCCL group (world size 1), left again after the test."""
    if not dist.is_available() or not dist.is_nccl_available():
        pytest.skip("torch built without NCCL")
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_ddp_with_nccl_in_one_process(nccl_group, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # the two runs must pick the same kernels
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    from cnnlab.train.device import resolve_runtime
    from cnnlab.train.distributed import DistContext, all_reduce_sum, broadcast_buffers, init_distributed
    from cnnlab.train.epoch import train_one_epoch
    from cnnlab.train.fit import _wrap_ddp
    from cnnlab.train.optim import build_optimizer, build_scheduler
    from cnnlab.train.progress import EpochProgress

    ctx = init_distributed(want_cuda=True)  # joins the group that exists instead of making one
    assert (ctx.rank, ctx.world_size, ctx.created_group) == (0, 1, False)
    assert dist.get_backend() == "nccl"

    class MultiProcessPaths(DistContext):
        """World size 1, but the code paths of a multi-process run (DDP wrap, all-reduce, broadcast)."""

        @property
        def enabled(self) -> bool:
            return True

    ctx = MultiProcessPaths(rank=0, world_size=1, local_rank=0)
    values = torch.tensor([1.5, 2.0, 7.0], dtype=torch.float64, device="cuda")
    torch.testing.assert_close(all_reduce_sum(values, ctx), values)  # the sum over one process

    config = TrainConfig(epochs=1, batch_size=32, lr=0.05, amp="off", device="cuda", seed=0)
    runtime = resolve_runtime("cuda", "off", False)
    bundle = _digits()
    torch.manual_seed(0)
    plain = _tiny_net().to(runtime.device)
    ddp_model = copy.deepcopy(plain)
    net = _wrap_ddp(ddp_model, runtime, ctx)
    assert isinstance(net, nn.parallel.DistributedDataParallel)
    outcomes = {}
    for name, (module, trained) in {"ddp": (ddp_model, net), "plain": (plain, plain)}.items():
        optimizer = build_optimizer(module, config)
        scheduler = build_scheduler(optimizer, config, len(bundle.train))
        loader = bundle.train.shard(0, 1).to(runtime.device)
        loader.seed = 0
        loader.set_epoch(1)
        torch.manual_seed(1)
        with EpochProgress(False, 1) as bar:
            outcomes[name] = train_one_epoch(trained, loader, optimizer, scheduler, runtime.scaler(), runtime,
                                             config, ctx if name == "ddp" else DistContext(), bar)
    broadcast_buffers(ddp_model, ctx)
    # averaging gradients over one process changes nothing: DDP over NCCL trains as the plain model does
    assert outcomes["ddp"]["train_loss"] == pytest.approx(outcomes["plain"]["train_loss"], rel=1e-4)
    for (name, p_ddp), p_plain in zip(ddp_model.state_dict().items(), plain.state_dict().values(), strict=True):
        torch.testing.assert_close(p_ddp, p_plain, rtol=1e-4, atol=1e-5, msg=name)
