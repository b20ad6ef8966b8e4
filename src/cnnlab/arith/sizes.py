"""Output sizes of convolution, pooling and transposed convolution along one axis.

The formulas are the ones torch implements (``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.ConvTranspose2d``
docs, "Shape" sections), so a size computed here is the size torch will produce, and a combination
torch rejects is rejected here first, with a :class:`cnnlab.ConfigError` that names the parameter.

Symbols: input size ``n``, kernel size ``k``, padding ``p`` (each side), stride ``s``, dilation ``d``.
"""

from __future__ import annotations

from cnnlab.arith.checks import require_non_negative, require_positive
from cnnlab.errors import ConfigError

__all__ = [
    "effective_kernel",
    "conv_output_size",
    "pool_output_size",
    "transposed_conv_output_size",
    "same_padding",
]


def effective_kernel(k: int, d: int = 1) -> int:
    """Extent of a dilated kernel: ``k + (k - 1)(d - 1)``, equivalently ``d(k - 1) + 1``.

    A 3-tap kernel with dilation 2 spans 5 input pixels. (The lecture writes ``(F - 1)(d - 1)``:
    that is only the number of inserted holes, not the extent.)
    """
    k = require_positive("kernel_size", k, "effective_kernel")
    d = require_positive("dilation", d, "effective_kernel")
    return k + (k - 1) * (d - 1)


def _check_window(n: object, k: object, p: object, s: object, d: object, where: str) -> tuple[int, ...]:
    return (
        require_positive("input size", n, where),
        require_positive("kernel_size", k, where),
        require_non_negative("padding", p, where),
        require_positive("stride", s, where),
        require_positive("dilation", d, where),
    )


def _sliding_output_size(n: int, k: int, p: int, s: int, d: int, ceil_mode: bool, where: str) -> int:
    """``floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1``, with torch's ceil-mode rule."""
    eff = effective_kernel(k, d)
    span = n + 2 * p - eff  # room the window has to slide in (negative: it does not fit)
    out = (-(-span // s) if ceil_mode else span // s) + 1
    # torch: in ceil mode the last window must start inside the input or the left padding.
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    if out < 1:
        raise ConfigError(
            f"{where}: input size {n} (padded to {n + 2 * p}) is too small for "
            f"effective kernel {eff} (kernel_size={k}, dilation={d})"
        )
    return out


def conv_output_size(
    n: int, k: int, p: int = 0, s: int = 1, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output size of a convolution (``nn.Conv2d``, per axis).

    ``out = floor((n + 2p - d(k - 1) - 1) / s) + 1``, i.e. the lecture's
    ``(n + 2p - k)/s + 1`` with ``k`` replaced by the effective kernel ``d(k - 1) + 1``.
    ``ceil_mode=True`` rounds up instead (as pooling layers may), dropping a last window that would
    start in the right padding, exactly as torch does (a last window may then overhang the input).

    Example (lecture, dilated convolution): ``conv_output_size(7, k=3, p=0, s=1, d=2) == 3``.
    Raises ConfigError when the padded input is smaller than the effective kernel (in ceil mode: when
    no window starts inside the input).
    """
    where = "conv_output_size"
    n, k, p, s, d = _check_window(n, k, p, s, d, where)
    return _sliding_output_size(n, k, p, s, d, ceil_mode, where)


def pool_output_size(
    n: int, k: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output size of a pooling layer (``nn.MaxPool2d`` / ``nn.AvgPool2d``, per axis).

    Same formula as :func:`conv_output_size`; the stride defaults to the kernel size, and torch's
    extra rule holds: padding may be at most half the kernel, ``p <= k // 2``.
    """
    where = "pool_output_size"
    if s is None:
        s = k
    n, k, p, s, d = _check_window(n, k, p, s, d, where)
    if p > k // 2:
        raise ConfigError(f"{where}: padding={p} must be at most half the kernel_size={k} (≤ {k // 2})")
    return _sliding_output_size(n, k, p, s, d, ceil_mode, where)


def transposed_conv_output_size(
    n: int, k: int, p: int = 0, s: int = 1, d: int = 1, output_padding: int = 0
) -> int:
    """Output size of a transposed convolution (``nn.ConvTranspose2d``, per axis).

    ``out = (n - 1)s - 2p + d(k - 1) + output_padding + 1``.
    ``output_padding`` picks one of the ``s`` input sizes a strided conv maps to the same output size;
    as in torch it must be smaller than the stride or the dilation. An output of size 0, which torch
    returns as an empty tensor, is rejected here like a negative one.
    """
    where = "transposed_conv_output_size"
    n, k, p, s, d = _check_window(n, k, p, s, d, where)
    op = require_non_negative("output_padding", output_padding, where)
    if op >= s and op >= d:
        raise ConfigError(
            f"{where}: output_padding={op} must be smaller than either stride={s} or dilation={d}"
        )
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out <= 0:
        raise ConfigError(
            f"{where}: padding={p} is too large for input size {n}: output size would be {out}"
        )
    return out


def same_padding(k: int, d: int = 1, s: int = 1, n: int | None = None) -> tuple[int, int]:
    """Padding ``(before, after)`` that keeps ``out = ceil(n / s)``: "same" padding.

    Stride 1: the total is ``d(k - 1)`` (effective kernel - 1), whatever ``n``; torch's
    ``padding="same"`` puts the odd pixel after. Stride > 1 ("SAME" as in TensorFlow) needs ``n``:
    total ``max((ceil(n / s) - 1)s + d(k - 1) + 1 - n, 0)``, odd pixel after.
    """
    where = "same_padding"
    eff = effective_kernel(k, d)
    s = require_positive("stride", s, where)
    if s == 1:
        total = eff - 1
    else:
        if n is None:
            raise ConfigError(f"{where}: stride={s} > 1 needs the input size n")
        n = require_positive("input size", n, where)
        total = max((-(-n // s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2
