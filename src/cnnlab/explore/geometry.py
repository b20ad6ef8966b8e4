"""What the page animates for one unit: a window's kernel, stride, padding and dilation (a convolution or a
pooling), a transposed convolution's, or an upsampling's mode and scale — read from the unit itself.

The animations are those of Dumoulin & Visin, "A guide to convolution arithmetic for deep learning"
(2016): a kernel sliding over a small padded input (their Figs. 2.1-2.4 and 5.1 for dilation), and a
transposed convolution drawn as the direct convolution over the zero-inserted, padded input (their
Figs. 4.1-4.6). Only the last two spatial axes are animated (a 1-D unit is one row).
"""

from __future__ import annotations

from torch import fx, nn

from cnnlab.analysis.rules.geometry import conv_padding, per_axis

__all__ = ["unit_geometry"]

_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_UPSAMPLES = (nn.Upsample,)  # UpsamplingNearest2d / UpsamplingBilinear2d subclass it


def _two(values: tuple[int, ...], fill: int) -> list[int]:
    """The last two axes; a 1-D unit gets ``fill`` for the missing (row) axis."""
    v = list(values)[-2:]
    return [fill, *v] if len(v) == 1 else v


def _window(op: str, k: object, s: object, p: object, d: object, n: int, **extra: object) -> dict:
    kk, dd = per_axis(k, n), per_axis(d, n)
    pads = conv_padding(p, kk, dd)
    return {"op": op, "k": _two(kk, 1), "s": _two(per_axis(s, n), 1), "d": _two(dd, 1),
            "p": [list(x) for x in ([(0, 0)] + list(pads) if n == 1 else list(pads)[-2:])], **extra}


def _scale(in_shape: tuple[int, ...] | None, out_shape: tuple[int, ...] | None) -> list[float] | None:
    if not in_shape or not out_shape or len(in_shape) != len(out_shape) or len(in_shape) < 3:
        return None
    n = min(2, len(in_shape) - 2)
    return _two(tuple(round(o / i, 4) for i, o in zip(in_shape[-n:], out_shape[-n:], strict=True)), 1)


def _upsample(mode: str, align_corners: object, in_shape: tuple[int, ...] | None,
              out_shape: tuple[int, ...] | None) -> dict | None:
    scale = _scale(in_shape, out_shape)
    if scale is None:
        return None
    return {"op": "upsample", "mode": str(mode), "scale": scale, "align_corners": bool(align_corners)}


def unit_geometry(module: nn.Module | None, node: fx.Node | None, in_shape: tuple[int, ...] | None,
                  out_shape: tuple[int, ...] | None) -> dict | None:
    """The numbers the page's animation needs for one unit, or None when it has no window to show."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        n = len(module.kernel_size)
        g = _window("convT", module.kernel_size, module.stride, module.padding, module.dilation, n,
                    groups=module.groups)
        g["output_padding"] = _two(per_axis(module.output_padding, n), 0)
        return g
    if isinstance(module, nn.modules.conv._ConvNd):
        n = len(module.kernel_size)
        return _window("conv", module.kernel_size, module.stride, module.padding, module.dilation, n,
                       groups=module.groups)
    if isinstance(module, _POOLS):
        n = 1 if "1d" in type(module).__name__ else 2 if "2d" in type(module).__name__ else 3
        op = "maxpool" if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)) else "avgpool"
        stride = module.stride if module.stride not in (None, ()) else module.kernel_size
        return _window(op, module.kernel_size, stride, module.padding, getattr(module, "dilation", 1), n,
                       ceil_mode=bool(module.ceil_mode))
    if isinstance(module, _UPSAMPLES):
        return _upsample(module.mode, module.align_corners, in_shape, out_shape)
    if node is not None and getattr(node.target, "__name__", "") == "interpolate":
        mode = node.kwargs.get("mode", node.args[3] if len(node.args) > 3 else "nearest")
        corners = node.kwargs.get("align_corners", node.args[4] if len(node.args) > 4 else None)
        return _upsample(mode, corners, in_shape, out_shape)
    return None
