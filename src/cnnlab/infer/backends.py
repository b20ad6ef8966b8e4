"""Which inference backend runs a model fastest at one input shape, measured with cnnlab's one clock.

``optimize_for_inference(backend="auto")`` builds every backend it can (``torch``: folded BatchNorm and
the faster memory layout; ``onnxruntime``: the exported graph in an :class:`~cnnlab.infer.OrtModule`),
times them here on the example input (warm-up, then the median of ``repeats`` calls, the candidates
called in turn each round: :func:`cnnlab.timing.interleaved_median_seconds`) and keeps the fastest.
A backend that cannot be built (onnxruntime missing, a model no exporter captures) is skipped, with why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from cnnlab.arith.checks import require_choice
from cnnlab.timing import interleaved_median_seconds

__all__ = ["BACKENDS", "BackendChoice", "check_backend", "pick_fastest", "synchronised"]

BACKENDS = ("auto", "torch", "onnxruntime")
# a clock takes {name: call} and returns {name: median seconds} (interleaved_median_seconds's signature)
Clock = Callable[..., Mapping[str, float]]


@dataclass
class BackendChoice:
    """The backend kept, the median milliseconds of each one timed, and those that could not be built."""

    backend: str
    ms: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # backend -> why it was not built

    @property
    def reason(self) -> str:
        if len(self.ms) < 2:
            why = "requested" if not self.ms and not self.skipped else "the only backend built"
            text = f"{self.backend} ({why})"
        else:
            timed = ", ".join(f"{name} {ms:.2f} ms" for name, ms in sorted(self.ms.items(), key=lambda kv: kv[1]))
            text = f"auto: {self.backend}, fastest on the example input ({timed})"
        skipped = "; ".join(f"{name} skipped: {why}" for name, why in self.skipped.items())
        return f"{text}; {skipped}" if skipped else text


def check_backend(backend: object, where: str = "optimize_for_inference") -> str:
    """``backend`` if it is one of :data:`BACKENDS`; a ConfigError naming it otherwise."""
    require_choice("backend", backend, BACKENDS, where)
    return backend  # type: ignore[return-value]


def synchronised(call: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """``call`` that waits for the GPU, so the wall clock measures the work and not its launch."""
    if device.type != "cuda":
        return call

    def run() -> object:
        out = call()
        torch.cuda.synchronize(device)
        return out

    return run


def pick_fastest(candidates: Mapping[str, Callable[[torch.Tensor], object]], example_input: torch.Tensor,
                 repeats: int = 3, warmup: int = 1, clock: Clock | None = None,
                 skipped: Mapping[str, str] | None = None) -> BackendChoice:
    """Time each candidate (a model or any callable) on ``example_input``; the fastest one's name and
    every median, in ms. Ties go to the first candidate. ``clock``: the timer, by default
    :func:`cnnlab.timing.interleaved_median_seconds` (tests inject a fake one)."""
    clock = interleaved_median_seconds if clock is None else clock
    calls = {name: synchronised(lambda m=model: m(example_input), example_input.device)
             for name, model in candidates.items()}
    with torch.no_grad():
        seconds = clock(calls, repeats=repeats, warmup=warmup)
    ms = {name: 1e3 * float(seconds[name]) for name in candidates}
    fastest = min(ms, key=ms.get)  # min keeps the first of equal values
    return BackendChoice(fastest, ms, dict(skipped or {}))
