"""Cost of a layer: multiply-accumulates (``macs``) and parameters (``params``).

Notation of MobileNet v1 (Howard et al. 2017, Sec. 3.1): kernel ``Dk x Dk``, ``M`` input channels,
``N`` output channels, output feature map ``Df x Df``. ``Dk`` and ``Df`` may also be ``(h, w)``
pairs. ``Df`` is always the *output* size (compute it with :mod:`cnnlab.arith.sizes`); one MAC is
one multiply and one add, so ``flops = 2 * macs``. Biases and activations are not counted in MACs.
"""

from __future__ import annotations

from cnnlab.arith.checks import pair, require_divisible, require_positive

__all__ = [
    "conv_macs",
    "conv_params",
    "grouped_conv_macs",
    "grouped_conv_params",
    "depthwise_separable_macs",
    "depthwise_separable_params",
    "separable_cost_ratio",
    "linear_macs",
    "linear_params",
]

Size = int | tuple[int, int]


def _area(name: str, value: Size, where: str) -> int:
    h, w = pair(name, value, where)
    return require_positive(name, h, where) * require_positive(name, w, where)


def grouped_conv_macs(dk: Size, m: int, n: int, df: Size, groups: int = 1) -> int:
    """MACs of a grouped conv: ``Dk*Dk * (M/groups) * N * Df*Df``.

    Each of the ``N`` outputs at each of the ``Df*Df`` positions sees ``M/groups`` input channels
    through a ``Dk x Dk`` window (Krizhevsky et al. 2012; ResNeXt, Xie et al. 2017).
    """
    where = "grouped_conv_macs"
    g = _check_groups(m, n, groups, where)
    return _area("dk", dk, where) * (m // g) * n * _area("df", df, where)


def grouped_conv_params(dk: Size, m: int, n: int, groups: int = 1, bias: bool = False) -> int:
    """Weights of a grouped conv: ``Dk*Dk * (M/groups) * N`` (``+ N`` with a bias)."""
    where = "grouped_conv_params"
    g = _check_groups(m, n, groups, where)
    return _area("dk", dk, where) * (m // g) * n + (n if bias else 0)


def _check_groups(m: int, n: int, groups: int, where: str) -> int:
    m = require_positive("m (input channels)", m, where)
    n = require_positive("n (output channels)", n, where)
    g = require_positive("groups", groups, where)
    require_divisible("m (input channels)", m, "groups", g, where)
    require_divisible("n (output channels)", n, "groups", g, where)
    return g


def conv_macs(dk: Size, m: int, n: int, df: Size) -> int:
    """MACs of a standard conv: ``Dk*Dk * M * N * Df*Df`` (MobileNet v1, Eq. 2)."""
    return grouped_conv_macs(dk, m, n, df, groups=1)


def conv_params(dk: Size, m: int, n: int, bias: bool = False) -> int:
    """Weights of a standard conv: ``Dk*Dk * M * N`` (``+ N`` with a bias)."""
    return grouped_conv_params(dk, m, n, groups=1, bias=bias)


def depthwise_separable_macs(dk: Size, m: int, n: int, df: Size) -> int:
    """MACs of a depthwise conv then a 1x1 pointwise conv (MobileNet v1, Eq. 5)::

        Dk*Dk * M * Df*Df  +  M * N * Df*Df
    """
    depthwise = grouped_conv_macs(dk, m, m, df, groups=m)
    pointwise = grouped_conv_macs(1, m, n, df)
    return depthwise + pointwise


def depthwise_separable_params(dk: Size, m: int, n: int, bias: bool = False) -> int:
    """Weights of depthwise + pointwise: ``Dk*Dk * M + M * N`` (``+ M + N`` with biases)."""
    return grouped_conv_params(dk, m, m, groups=m, bias=bias) + grouped_conv_params(1, m, n, bias=bias)


def separable_cost_ratio(dk: Size, n: int) -> float:
    """Depthwise-separable MACs over standard MACs (MobileNet v1, Sec. 3.1)::

        (Dk*Dk*M*Df*Df + M*N*Df*Df) / (Dk*Dk*M*N*Df*Df) = 1/N + 1/Dk^2

    Independent of ``M`` and ``Df``. ``Dk=3, N=64``: ``1/64 + 1/9 = 0.12674``, about 8x fewer MACs.
    """
    where = "separable_cost_ratio"
    n = require_positive("n (output channels)", n, where)
    return 1 / n + 1 / _area("dk", dk, where)


def linear_macs(in_features: int, out_features: int) -> int:
    """MACs of a fully connected layer on one sample: ``in_features * out_features``."""
    where = "linear_macs"
    return require_positive("in_features", in_features, where) * require_positive(
        "out_features", out_features, where
    )


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights of a fully connected layer: ``in_features * out_features`` (``+ out_features``)."""
    return linear_macs(in_features, out_features) + (out_features if bias else 0)
