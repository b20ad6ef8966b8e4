"""Gradient oracle for the receptive field: which input pixels influence each output unit.

The model is copied (CPU, float64, eval mode; the user's model is never touched) and linearised so
that no path from a pixel to a unit can cancel another and every path shows in the gradient:

- every parameter positive (uniform in [0.5, 1.5] divided by the fan-in, so deep nets neither
  overflow nor underflow), weight reparametrizations (spectral / weight norm) removed first;
- activations are the identity, normalisations their per-channel affine part (statistics
  detached: batch-norm running mean 0 / variance 1), max pooling an average over the same windows
  (adaptive max an adaptive average, dilated max a window sum), grouped
  and depthwise convolutions a window sum with equal weights (same support; torch's float64 grouped
  kernels are a slow per-group loop); these are caught as *functions* (``F.relu``, ``x.relu_()``, ``F.max_pool2d`` ...) by a
  :class:`torch.overrides.TorchFunctionMode`, so module and functional code alike are covered;
- global context (an adaptive pooling or a reduction that collapses the spatial extent to 1, as in
  squeeze-excitation) is detached (and set to 1, so gates stay of order 1): the gradient shows the
  local convolutional field, the one the analytic field reports (it notes global context separately).

With a positive input the copy is a sum of positive path products, so a pixel's gradient is nonzero
exactly when a path joins it to the unit. Every unit of a window is measured in one backward pass:
the input is replicated along the batch and unit ``k`` is back-propagated from batch element ``k``.
Luo et al. 2016 ("Understanding the Effective Receptive Field in Deep CNNs") measure the field by
the same input gradient; Araujo et al. 2019 (Distill, "Computing Receptive Fields of CNNs") derive
the analytic one it is held against. Other buffers (masks, constants) are kept as they are, and so
are forward hooks (the copy runs them: they may be part of the forward, as timm's feature hooks are).
Not linearised: custom autograd functions, ``torch.where`` activations, attention (a matmul over the
positions is a real global field); arg-max indices (``return_indices``, fractional max pooling) are
refused with a ConfigError.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.spectral_norm import SpectralNorm, remove_spectral_norm
from torch.nn.utils.weight_norm import WeightNorm, remove_weight_norm
from torch.overrides import TorchFunctionMode

from cnnlab.arith.checks import require_non_negative, require_shape
from cnnlab.errors import ConfigError

__all__ = ["EmpiricalField", "Box", "empirical_receptive_field", "gradient_boxes", "Linearised", "positive_copy"]

Box = tuple[tuple[int, int], ...]
"""Inclusive (first, last) input-pixel indices per spatial axis."""


def _ops(owner: object, *names: str) -> set[Callable]:
    """The callables ``owner.name`` that this torch version has."""
    return {getattr(owner, n) for n in names if hasattr(owner, n)}


_IDENTITY = (
    _ops(F, "relu", "relu_", "relu6", "elu", "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu",
         "leaky_relu_", "prelu", "rrelu", "rrelu_", "gelu", "silu", "mish", "hardswish", "hardsigmoid",
         "hardtanh", "hardtanh_", "sigmoid", "tanh", "softplus", "softsign", "logsigmoid", "threshold",
         "threshold_", "local_response_norm")
    | _ops(torch, "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "selu", "selu_", "celu", "celu_",
           "rrelu", "rrelu_", "prelu", "threshold", "threshold_", "clamp", "clamp_", "clip", "clip_",
           "clamp_min", "clamp_min_", "clamp_max", "clamp_max_")
    | _ops(torch.Tensor, "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "clip",
           "clip_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_")
)
_MAX_POOL = {F.max_pool1d: 1, F.max_pool2d: 2, F.max_pool3d: 3,
             torch.max_pool1d: 1, torch.max_pool2d: 2, torch.max_pool3d: 3}
_REAL_MAX_POOL = {1: torch.max_pool1d, 2: torch.max_pool2d, 3: torch.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_CONV = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}
_ADAPTIVE_MAX = {F.adaptive_max_pool1d: F.adaptive_avg_pool1d, F.adaptive_max_pool2d: F.adaptive_avg_pool2d,
                 F.adaptive_max_pool3d: F.adaptive_avg_pool3d}
_WITH_INDICES = _ops(F, "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
                     "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
                     "adaptive_max_pool3d_with_indices", "fractional_max_pool2d", "fractional_max_pool3d")
# ops whose extent adapts to the map: detached when the spatial extent is gone (global context); a pool
# with a fixed window stays local even where its output happens to be 1 x 1
_REDUCTIONS = (
    set(_ADAPTIVE_MAX)
    | _ops(F, "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d")
    | _ops(torch, "mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm", "nansum",
           "nanmean", "median", "adaptive_avg_pool1d")
    | _ops(torch.Tensor, "mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm",
           "nansum", "nanmean", "median")
    | {torch.linalg.vector_norm}
)


def _channel_affine(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    shape = (1, -1, *([1] * (x.dim() - 2)))
    if weight is not None:
        x = x * weight.reshape(shape)
    return x if bias is None else x + bias.reshape(shape)


def _batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, *args, **kwargs):
    return _channel_affine(input, weight, bias)


def _group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    return _channel_affine(input, weight, bias)


def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = input if weight is None else input * weight
    return x if bias is None else x + bias


def _rms_norm(input, normalized_shape, weight=None, eps=None):
    return input if weight is None else input * weight


def _glu(input, dim=-1):
    a, b = input.chunk(2, dim)
    return a * b


_AFFINE = {F.batch_norm: _batch_norm, F.instance_norm: _batch_norm, F.group_norm: _group_norm,
           F.layer_norm: _layer_norm, F.glu: _glu}
if hasattr(F, "rms_norm"):
    _AFFINE[F.rms_norm] = _rms_norm


def _tuple(value: object, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    return values * n if len(values) == 1 else values


def _window_sum(x: torch.Tensor, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...],
                pads: list[tuple[int, int]]) -> torch.Tensor:
    """Sum over each (dilated, strided) window of the zero-padded map, one axis at a time (k slices each)."""
    x = F.pad(x, [v for lo_hi in reversed(pads) for v in lo_hi])
    for axis in range(len(k)):
        dim = 2 + axis
        n_out = (x.shape[dim] - d[axis] * (k[axis] - 1) - 1) // s[axis] + 1
        index = [slice(None)] * x.dim()
        terms = []
        for t in range(k[axis]):
            first = t * d[axis]
            index[dim] = slice(first, first + (n_out - 1) * s[axis] + 1, s[axis])
            terms.append(x[tuple(index)])
        x = terms[0] if len(terms) == 1 else terms[0] + terms[1]  # a new tensor: in-place adds are safe
        for term in terms[2:]:
            x.add_(term)
    return x


def _max_pool_as_mean(n: int, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      return_indices=False):
    """Max pooling as the mean over the same windows (padding, dilation and ceil_mode kept): an average
    pool, or with dilation a window sum cropped to the max pool's output size."""
    if return_indices:
        raise ConfigError("max pooling with return_indices=True has no linear stand-in in the gradient oracle")
    k, p, d = _tuple(kernel_size, n), _tuple(padding, n), _tuple(dilation, n)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(stride, n)
    if all(v == 1 for v in d):  # the same windows and output size (torch's pooling_output_shape)
        return _AVG_POOL[n](input, k, s, p, ceil_mode, True)
    unbatched = input.dim() == n + 1
    x = input.unsqueeze(0) if unbatched else input
    with torch.no_grad():  # the exact output size (ceil_mode), from the real operator
        size = _REAL_MAX_POOL[n](x.detach(), k, s, p, d, ceil_mode).shape[2:]
    pads = [(p[a], p[a] + max(0, (size[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 - x.shape[2 + a] - 2 * p[a]))
            for a in range(n)]
    y = _window_sum(x, k, s, d, pads)[(slice(None), slice(None), *(slice(0, o) for o in size))] / math.prod(k)
    return y.squeeze(0) if unbatched else y


def _groups(args: tuple, kwargs: dict) -> int:
    return int(kwargs.get("groups", args[6] if len(args) > 6 else 1))  # conv(input, weight, bias, s, p, d, groups)


def _grouped_conv(n: int, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A grouped (e.g. depthwise) convolution with equal positive weights: every output channel of a
    group is the window sum over that group's input channels. Same support as the convolution, and
    unlike torch's float64 grouped kernels (a slow per-group loop, in the backward above all) it is fast."""
    k, s, d = tuple(weight.shape[2:]), _tuple(stride, n), _tuple(dilation, n)
    if padding == "valid":
        pads = [(0, 0)] * n
    elif padding == "same":  # torch: total d(k-1), the odd pixel on the right
        pads = [(t // 2, t - t // 2) for t in (d[a] * (k[a] - 1) for a in range(n))]
    else:
        pads = [(p, p) for p in _tuple(padding, n)]
    unbatched = input.dim() == n + 1
    x = input.unsqueeze(0) if unbatched else input
    batch, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    x = x.reshape(batch, groups, channels // groups, *spatial).sum(2) / (channels // groups * math.prod(k))
    y = _window_sum(x, k, s, d, pads)
    per_group = weight.shape[0] // groups
    y = y.unsqueeze(2).expand(batch, groups, per_group, *y.shape[2:]).reshape(batch, weight.shape[0], *y.shape[2:])
    return y.squeeze(0) if unbatched else y


def _reduced_dims(args: tuple, kwargs: dict, ndim: int) -> set[int] | None:
    """The dims a reduction removes (None: all of them)."""
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    if not all(isinstance(v, int) for v in dim):  # e.g. torch.max(a, b): not a reduction
        return set()
    return {v % ndim for v in dim}


def _collapses(args: tuple, kwargs: dict, out: torch.Tensor) -> bool:
    """True when the op turned a map with spatial extent (dims 2..) into one without (global context)."""
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, torch.Tensor) or x.dim() < 3 or math.prod(x.shape[2:]) <= 1:
        return False
    if out.dim() == x.dim():
        return all(v == 1 for v in out.shape[2:])
    if out.dim() > x.dim():
        return False
    removed = _reduced_dims(args, kwargs, x.dim())
    return removed is None or set(range(2, x.dim())) <= removed


def _context(out: torch.Tensor) -> torch.Tensor:
    """Global context, detached and set to 1: a gate built from it (x * fc(mean(x))) then scales ``x`` by a
    constant instead of multiplying two activations, which would square the magnitude at every gate."""
    return torch.ones_like(out) if out.is_floating_point() else out.detach()


class Linearised(TorchFunctionMode):
    """Activations as identity, norms as affine, max as mean, global context detached (see module doc)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _IDENTITY:
            return args[0] if args else next(iter(kwargs.values()))
        if func in _WITH_INDICES or (func in _ADAPTIVE_MAX and kwargs.get("return_indices", args[2:3] == (True,))):
            raise ConfigError(f"{getattr(func, '__name__', func)} returns arg-max indices: the gradient oracle "
                              "has no linear stand-in for it")
        if func in _CONV and _groups(args, kwargs) > 1:
            return _grouped_conv(_CONV[func], *args, **kwargs)
        if func in _MAX_POOL:
            out = _max_pool_as_mean(_MAX_POOL[func], *args, **kwargs)
        elif func in _ADAPTIVE_MAX:
            out = _ADAPTIVE_MAX[func](args[0] if args else kwargs["input"],
                                      args[1] if len(args) > 1 else kwargs["output_size"])
        elif func in _AFFINE:
            return _AFFINE[func](*args, **kwargs)
        else:
            out = func(*args, **kwargs)
        if func in _REDUCTIONS:
            if isinstance(out, torch.Tensor) and _collapses(args, kwargs, out):
                return _context(out)
            if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor) and _collapses(args, kwargs, out[0]):
                return type(out)([_context(out[0]), *out[1:]])  # (values, indices) of max / min / median
        return out


def _fan_in(module: nn.Module, p: torch.Tensor) -> float:
    if p.dim() < 2:
        return 1.0
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # each output reads in/groups * k / s inputs
        return max(1.0, p.shape[0] / module.groups * math.prod(p.shape[2:]) / math.prod(module.stride))
    return float(p[0].numel())


def _strip_reparametrizations(model: nn.Module) -> None:
    """Spectral / weight norm (parametrizations and the older hooks) become plain weights."""
    for m in model.modules():
        if parametrize.is_parametrized(m):
            # the copy shares torch's generated Parametrized<Module> class with the user's module, and
            # removing a parametrization deletes its property from that class: give the copy its own class
            cls = type(m)
            m.__class__ = type(cls.__name__, cls.__bases__,
                               {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")})
            for name in list(m.parametrizations):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
        for hook in list(m._forward_pre_hooks.values()):
            if isinstance(hook, SpectralNorm):
                remove_spectral_norm(m, hook.name)
            elif isinstance(hook, WeightNorm):
                remove_weight_norm(m, hook.name)


def positive_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A float64 CPU eval-mode copy of ``model`` with positive parameters and batch-norm stats 0 / 1."""
    probe = copy.deepcopy(model)
    if any(t.is_meta for t in chain(probe.parameters(), probe.buffers())):
        probe = probe.to_empty(device="cpu")
        with torch.no_grad():  # a meta model has no buffer values: 1 everywhere, norm stats set below
            for b in probe.buffers():
                if b.is_floating_point():
                    b.fill_(1.0)
    probe = probe.to(device="cpu", dtype=torch.float64).eval()
    _strip_reparametrizations(probe)
    gen = torch.Generator().manual_seed(require_non_negative("seed", seed))
    with torch.no_grad():
        for m in probe.modules():
            for _name, p in m.named_parameters(recurse=False):
                p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) + 0.5) / _fan_in(m, p))
                p.requires_grad_(False)
            buffers = dict(m.named_buffers(recurse=False))
            if isinstance(buffers.get("running_mean"), torch.Tensor) and isinstance(buffers.get("running_var"),
                                                                                   torch.Tensor):
                buffers["running_mean"].zero_()
                buffers["running_var"].fill_(1.0)
                for key in ("weight", "bias"):  # frozen norms keep their affine part in buffers
                    if isinstance(buffers.get(key), torch.Tensor) and buffers[key].is_floating_point():
                        buffers[key].copy_(torch.rand(buffers[key].shape, generator=gen, dtype=torch.float64) + 0.5)
    return probe


def _pick(out: object, output: Callable | str | int | None) -> torch.Tensor:
    if output is None:
        picked = out
    elif callable(output):
        picked = output(out)
    else:
        try:
            picked = out[output]  # type: ignore[index]
        except (KeyError, IndexError, TypeError) as exc:
            raise ConfigError(f"output={output!r} does not select a tensor of the model's output "
                              f"({type(out).__name__})") from exc
    if not isinstance(picked, torch.Tensor):
        raise ConfigError(f"the model returns a {type(out).__name__}: pass output= (a key, an index or a "
                          "function) to pick the feature map to measure")
    return picked


def _units(units: Sequence[object], spatial: tuple[int, ...]) -> list[tuple[int, ...]]:
    rows = []
    for unit in units:
        u = (unit,) if isinstance(unit, int) else tuple(unit)  # type: ignore[arg-type]
        if len(u) != len(spatial) or not all(0 <= require_non_negative("unit index", v) < n
                                            for v, n in zip(u, spatial, strict=True)):
            raise ConfigError(f"unit {unit!r} is not an index of the {'x'.join(map(str, spatial))} output map")
        rows.append(u)
    return rows


def _forward(model: nn.Module, shape: tuple[int, ...], batch: int, output: Callable | str | int | None,
             seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The positive input (``batch`` copies of one image, requiring grad) and the linearised copy's map."""
    probe = positive_copy(model, seed)
    base = torch.rand((1, *shape[1:]), generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.5
    x = base.expand(batch, *shape[1:]).clone().requires_grad_(True)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # tensors the forward creates match the float64 copy
    try:
        with Linearised():
            y = _pick(probe(x.clone()), output)  # clone: in-place ops on the input stay legal
    finally:
        torch.set_default_dtype(default)
    if y.dim() < 3 or y.shape[0] != batch:
        raise ConfigError(f"the measured output must be a batch of feature maps (N, C, ...), got shape "
                          f"{tuple(y.shape)} for a batch of {batch}")
    return x, y


def _boxes(x: torch.Tensor, y: torch.Tensor, rows: list[tuple[int, ...]]) -> list[Box | None]:
    """Back-propagate unit k from batch element k (all channels) and box the nonzero input gradient."""
    index = (torch.arange(len(rows)), slice(None), *(torch.tensor(axis) for axis in zip(*rows, strict=True)))
    total = y[index].sum()
    grad = torch.autograd.grad(total, x, allow_unused=True)[0] if total.requires_grad else None
    if grad is None:
        return [None] * len(rows)
    if not torch.isfinite(grad).all():
        raise ConfigError("the gradient oracle overflowed (non-finite gradient); the positive copy is too deep "
                          "for float64 at this scale")
    hit = (grad != 0).any(1)  # (units, *input spatial)
    axes = range(hit.dim() - 1)
    boxes: list[Box | None] = []
    for k in range(len(rows)):
        if not hit[k].any():
            boxes.append(None)
            continue
        box = []
        for axis in axes:
            others = [a for a in axes if a != axis]
            idx = torch.nonzero(hit[k].any(others) if others else hit[k]).flatten()
            box.append((int(idx[0]), int(idx[-1])))
        boxes.append(tuple(box))
    return boxes


def gradient_boxes(model: nn.Module, input_size: object, units: Sequence[object], *,
                   output: Callable | str | int | None = None, seed: int = 0) -> list[Box | None]:
    """Per unit, the (first, last) input pixels per spatial axis whose gradient is nonzero, or None.

    ``units`` index the measured map's spatial axes (ints for a 1-D map (N, C, L)); ``output`` picks
    that map from a dict / tuple output (a key, an index or a function). The batch entry of
    ``input_size`` is ignored: the input is replicated once per unit. ``None`` means that no input
    pixel influences the unit.
    """
    shape = require_shape("input_size", input_size, min_dims=3)
    if not units:
        raise ConfigError("gradient_boxes needs at least one unit")
    x, y = _forward(model, shape, len(units), output, seed)
    return _boxes(x, y, _units(units, tuple(y.shape[2:])))


@dataclass(frozen=True)
class EmpiricalField:
    """Nonzero-gradient box of output unit ``unit``: per spatial axis ``top_left[a]..bottom_right[a]``."""

    size: tuple[int, ...]
    top_left: tuple[int, ...]
    bottom_right: tuple[int, ...]
    unit: tuple[int, ...]
    output_size: tuple[int, ...]

    @property
    def centre(self) -> tuple[float, ...]:
        """Centre of the box in pixel coordinates (pixel i spans [i, i + 1)), comparable to ``start``."""
        return tuple((a + b + 1) / 2 for a, b in zip(self.top_left, self.bottom_right, strict=True))


def empirical_receptive_field(model: nn.Module, input_size: object, unit: Sequence[int] | int | None = None,
                              seed: int = 0, output: Callable | str | int | None = None) -> EmpiricalField:
    """Receptive field of one unit (default: the centre) of the model's output map, from gradients."""
    shape = require_shape("input_size", input_size, min_dims=3)
    x, y = _forward(model, shape, 1, output, seed)
    size = tuple(y.shape[2:])
    u = tuple(n // 2 for n in size) if unit is None else unit
    (row,) = _units([u], size)
    (box,) = _boxes(x, y, [row])
    if box is None:
        raise ConfigError(f"no input pixel influences unit {row} of the {'x'.join(map(str, size))} output map")
    return EmpiricalField(tuple(b - a + 1 for a, b in box), tuple(a for a, _ in box), tuple(b for _, b in box),
                          row, size)
