"""Deformable convolution, v1 (Dai et al. 2017) and modulated v2 (Zhu et al. 2019), in pure PyTorch.

Output pixel ``p0`` of a deformable convolution reads its ``K = kh*kw`` kernel taps at
``p0 + pn + Δpn`` (Dai et al. 2017, Eq. 2) instead of ``p0 + pn``; a fractional position is sampled
bilinearly (Eq. 3/4) and reads zero outside the image. v2 (Zhu et al. 2019, Eq. 3) also multiplies
each sample by a learned modulation scalar ``Δm ∈ [0, 1]``. The layout of ``offset`` and ``mask``
and the border rule are those of ``torchvision.ops.deform_conv2d``.

How it is computed (no Python loop over positions or taps): the bilinear samples of one batch
chunk form the im2col column matrix ``cols = S @ X``, where ``X`` holds the zero-padded input as
channels-last rows and ``S`` has one row per sample with its four corner weights (times its
mask); a row of ``S`` is a weighted bag of four input rows, so ``embedding_bag`` gathers it in
one fused pass. Then one matmul per conv group applies the kernel. The backward pass uses the
same matrix: ``grad X = Sᵀ @ grad cols`` (four sparse products, one per corner, over one CSR
skeleton of the samples sorted by top-left corner, each shifted by its corner's row offset),
and the offset / mask gradients come from the four corner dot products ``<grad cols_r, X_corner>``,
one sampled matmul at the pattern of ``S``. Batch chunks are small (about ``_CHUNK_SAMPLES``
samples, so a chunk's sparse operands stay in cache, yet enough output positions for efficient
matmuls) and never hold more than ``max_column_bytes`` of columns. The backward rebuilds the
columns; it reuses the forward's sampling plans when all of them fit in that budget, and rebuilds
them too otherwise.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from cnnlab.arith.checks import pair, require_positive
from cnnlab.arith.sizes import conv_output_size
from cnnlab.errors import ConfigError
from cnnlab.units.conv_norm_act import check_conv_args

__all__ = ["DEFAULT_MAX_COLUMN_BYTES", "deform_conv2d", "DeformConv2d"]

DEFAULT_MAX_COLUMN_BYTES = 256 * 2**20  # column matrix of one batch chunk, bytes
_FAST_DTYPES = (torch.float32, torch.float64)  # what the sparse kernels support on CPU and CUDA
# Samples per batch chunk to aim for (at least one image): small enough that a chunk's sparse
# operands stay in cache between the gather, the sparse products and the matmul ...
_CHUNK_SAMPLES = 2**14
# ... unless the chunk's matmuls would have fewer rows (output positions) than this: small
# matmuls lose more than the cache gains.
_CHUNK_MIN_POSITIONS = 2**11


@dataclass(frozen=True)
class _Geometry:
    """Sizes of one deformable convolution, as torchvision infers them from the tensors."""

    batch: int
    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    offset_groups: int
    out_size: tuple[int, int]

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def positions(self) -> int:
        return self.out_size[0] * self.out_size[1]

    @property
    def blocks(self) -> int:
        """Channel blocks that lie inside one conv group and one offset group each."""
        return math.lcm(self.groups, self.offset_groups)

    @property
    def block_channels(self) -> int:
        return self.in_channels // self.blocks

    def column_bytes_per_sample(self, itemsize: int) -> int:
        return self.in_channels * self.taps * self.positions * itemsize


# --------------------------------------------------------------------------------------------
# Validation: every bad argument becomes a ConfigError before any tensor work.
# --------------------------------------------------------------------------------------------


def _require_tensor(name: str, value: object, ndim: int, where: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ConfigError(f"{where}: {name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() != ndim:
        raise ConfigError(f"{where}: {name} must be {ndim}-D, got shape {tuple(value.shape)}")
    return value


def _output_size(geo_in: tuple[int, int], kernel, padding, stride, dilation, where: str) -> tuple[int, int]:
    try:
        return tuple(  # type: ignore[return-value]
            conv_output_size(n, k, p, s, d)
            for n, k, p, s, d in zip(geo_in, kernel, padding, stride, dilation, strict=True)
        )
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _check_arguments(
    x: object, offset: object, weight: object, bias: object, mask: object,
    stride: object, padding: object, dilation: object, where: str,
) -> _Geometry:
    """Validate the arguments of :func:`deform_conv2d`; infer groups as torchvision does."""
    x = _require_tensor("input", x, 4, where)
    offset = _require_tensor("offset", offset, 4, where)
    weight = _require_tensor("weight", weight, 4, where)
    batch, in_ch, height, width = x.shape
    out_ch, ch_per_group, kh, kw = weight.shape
    if ch_per_group == 0 or in_ch % ch_per_group != 0:
        raise ConfigError(
            f"{where}: input channels {in_ch} are not a multiple of weight.shape[1]={ch_per_group}"
        )
    groups = in_ch // ch_per_group
    check_conv_args(in_ch, out_ch, (kh, kw), stride, padding, dilation, groups, where=where)
    stride2, padding2, dilation2 = pair("stride", stride), pair("padding", padding), pair("dilation", dilation)
    if offset.shape[1] == 0 or offset.shape[1] % (2 * kh * kw) != 0:
        raise ConfigError(
            f"{where}: offset has {offset.shape[1]} channels, expected a positive multiple of "
            f"2*kh*kw = {2 * kh * kw}"
        )
    offset_groups = offset.shape[1] // (2 * kh * kw)
    if in_ch % offset_groups != 0:
        raise ConfigError(
            f"{where}: input channels {in_ch} are not divisible by offset_groups={offset_groups} "
            f"(from offset channels {offset.shape[1]})"
        )
    out_size = _output_size((height, width), (kh, kw), padding2, stride2, dilation2, where)
    expected = (batch, 2 * offset_groups * kh * kw, *out_size)
    if tuple(offset.shape) != expected:
        raise ConfigError(f"{where}: offset must have shape {expected}, got {tuple(offset.shape)}")
    if mask is not None:
        mask = _require_tensor("mask", mask, 4, where)
        expected = (batch, offset_groups * kh * kw, *out_size)
        if tuple(mask.shape) != expected:
            raise ConfigError(f"{where}: mask must have shape {expected}, got {tuple(mask.shape)}")
    if bias is not None:
        bias = _require_tensor("bias", bias, 1, where)
        if bias.shape[0] != out_ch:
            raise ConfigError(f"{where}: bias must have shape ({out_ch},), got {tuple(bias.shape)}")
    for name, t in (("offset", offset), ("weight", weight), ("mask", mask), ("bias", bias)):
        if t is not None and (t.dtype != x.dtype or t.device != x.device):
            raise ConfigError(
                f"{where}: {name} is {t.dtype} on {t.device}, input is {x.dtype} on {x.device}"
            )
    return _Geometry(
        batch, in_ch, height, width, out_ch, (kh, kw), stride2, padding2, dilation2,
        groups, offset_groups, out_size,
    )


# --------------------------------------------------------------------------------------------
# The sampling matrix S of one batch chunk.
# --------------------------------------------------------------------------------------------


class _Plan(NamedTuple):
    """Where and how strongly each sample reads the padded input rows.

    Samples (rows of S) are ordered ``(conv group, n, position, block in group, tap)`` so that
    the column matrix of each conv group is one contiguous ``(n * positions, channels * taps)``
    block. ``index`` / ``weight`` have a trailing corner axis (top-left, top-right, bottom-left,
    bottom-right); the other fields hold one value per sample.
    """

    index: torch.Tensor  # (samples, 4) rows of the padded channels-last input
    weight: torch.Tensor  # (samples, 4) bilinear weight x mask, zero outside the image
    frac_y: torch.Tensor  # fractional part of the sample position (0 outside the image)
    frac_x: torch.Tensor
    inside: torch.Tensor  # the sample lies in [-1, H) x [-1, W) (see _make_plan)
    scale: torch.Tensor  # mask (1 without one) inside the image, else 0


def _base_coordinates(geo: _Geometry, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``p0 + pn`` for every (tap, position), as (K, L) tensors (exact integers)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo.kernel, geo.stride, geo.padding, geo.dilation
    ho, wo = geo.out_size
    tap_y = (torch.arange(kh, device=device) * dh).repeat_interleave(kw)
    tap_x = (torch.arange(kw, device=device) * dw).repeat(kh)
    out_y = torch.arange(ho, device=device) * sh - ph
    out_x = torch.arange(wo, device=device) * sw - pw
    base_y = (tap_y[:, None, None] + out_y[None, :, None]).expand(-1, ho, wo)
    base_x = (tap_x[:, None, None] + out_x[None, None, :]).expand(-1, ho, wo)
    return base_y.reshape(geo.taps, -1).to(dtype), base_x.reshape(geo.taps, -1).to(dtype)


def _to_sample_order(t: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """(n, offset groups, K, L) -> (samples,) in the row order of S, offset groups -> blocks."""
    n, blocks, groups = t.shape[0], geo.blocks, geo.groups
    if blocks > geo.offset_groups:
        t = t.repeat_interleave(blocks // geo.offset_groups, dim=1)
    t = t.view(n, groups, blocks // groups, geo.taps, geo.positions)
    return t.permute(1, 0, 4, 2, 3).reshape(-1)


def _from_sample_order(t: torch.Tensor, geo: _Geometry, n: int) -> torch.Tensor:
    """(samples,) in S row order -> (n, offset groups, K, L), summing the blocks of a group."""
    blocks = geo.blocks
    t = t.view(geo.groups, n, geo.positions, blocks // geo.groups, geo.taps).permute(1, 0, 3, 4, 2)
    t = t.reshape(n, geo.offset_groups, blocks // geo.offset_groups, geo.taps, geo.positions)
    return t.sum(dim=2) if blocks > geo.offset_groups else t.squeeze(2)


def _row_base(geo: _Geometry, n: int, index_dtype, device) -> torch.Tensor:
    """Padded-input row of pixel (0, 0) for each (conv group, image, block in group)."""
    per_group = geo.blocks // geo.groups
    padded_pixels = (geo.height + 2) * (geo.width + 2)
    image = torch.arange(geo.groups * n, device=device, dtype=index_dtype).view(geo.groups, n, 1, 1, 1)
    block = torch.arange(per_group, device=device, dtype=index_dtype).view(1, 1, 1, per_group, 1)
    return image * (padded_pixels * per_group) + block


def _corner_shifts(geo: _Geometry) -> tuple[int, int, int, int]:
    """Row distance from the top-left corner to the (tl, tr, bl, br) corners in the padded rows."""
    per_group, padded_w = geo.blocks // geo.groups, geo.width + 2
    return 0, per_group, padded_w * per_group, (padded_w + 1) * per_group


def _make_plan(geo: _Geometry, offset: torch.Tensor, mask: torch.Tensor | None, index_dtype) -> _Plan:
    n, height, width = offset.shape[0], geo.height, geo.width
    base_y, base_x = _base_coordinates(geo, offset.dtype, offset.device)
    off = offset.view(n, geo.offset_groups, geo.taps, 2, geo.positions)
    # Same single rounding as torchvision: (p0 + pn) + Δpn.
    y = _to_sample_order(off[:, :, :, 0] + base_y, geo)
    x = _to_sample_order(off[:, :, :, 1] + base_x, geo)
    # A sample reads zero unless some corner of its cell [floor, floor + 1]^2 is in the image. The
    # closed end at -1 matters for the offset gradient only: as in torchvision, it is the slope on
    # that cell, nonzero at exactly -1 (the border taps of a zero offset with padding 1).
    inside = (y >= -1) & (y < height) & (x >= -1) & (x < width)  # False for NaN too
    y_low, x_low = y.floor(), x.floor()
    frac_y = torch.where(inside, y - y_low, 0)
    frac_x = torch.where(inside, x - x_low, 0)
    if mask is None:
        scale = inside.to(offset.dtype)
    else:
        scale = torch.where(inside, _to_sample_order(mask.view(n, geo.offset_groups, geo.taps, -1), geo), 0)
    # Top-left corner in the input padded by one zero pixel: (row, col) in [0, H] x [0, W].
    row = torch.where(inside, y_low, -1).to(index_dtype) + 1
    col = torch.where(inside, x_low, -1).to(index_dtype) + 1
    top_left = (row * (width + 2) + col) * (geo.blocks // geo.groups)
    top_left = top_left.view(geo.groups, n, geo.positions, geo.blocks // geo.groups, geo.taps)
    top_left = (top_left + _row_base(geo, n, index_dtype, offset.device)).view(-1)
    shifts = torch.tensor(_corner_shifts(geo), device=offset.device, dtype=index_dtype)
    low_y, high_y = 1 - frac_y, frac_y
    low_x, high_x = (1 - frac_x) * scale, frac_x * scale
    weight = torch.stack((low_y * low_x, low_y * high_x, high_y * low_x, high_y * high_x), dim=1)
    return _Plan(top_left[:, None] + shifts, weight, frac_y, frac_x, inside, scale)


def _csr(crow: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, size) -> torch.Tensor:
    """A CSR matrix built from indices that are valid by construction (no invariant checks)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(crow, columns, values, size=size, check_invariants=False)


def _sampling_matrix(plan: _Plan, input_rows: int) -> torch.Tensor:
    """S: one row per sample, its four corners as columns (input rows), bilinear weights x mask."""
    samples = plan.index.shape[0]
    crow = torch.arange(0, 4 * samples + 1, 4, device=plan.index.device, dtype=plan.index.dtype)
    return _csr(crow, plan.index.view(-1), plan.weight.view(-1), (samples, input_rows))


class _TopLeftRuns(NamedTuple):
    """The samples grouped by top-left input row: the CSR skeleton that the four corners share.

    Row ``q`` lists the samples whose top-left corner is input row ``q``, ``order[crow[q]:crow[q+1]]``;
    ``weight[j]`` holds corner ``j``'s bilinear weight (times mask) of those samples, in that order.
    """

    crow: torch.Tensor  # (input rows + 1,)
    order: torch.Tensor  # (samples,) sample indices sorted by top-left row
    weight: torch.Tensor  # (4, samples)


def _top_left_runs(plan: _Plan, input_rows: int) -> _TopLeftRuns:
    top_left = plan.index[:, 0]
    order = torch.sort(top_left, stable=True).indices  # canonical CSR: columns ascending within a row
    crow = top_left.new_zeros(input_rows + 1)
    torch.cumsum(torch.bincount(top_left, minlength=input_rows), 0, out=crow[1:])
    weight = plan.weight.index_select(0, order).t().contiguous()
    return _TopLeftRuns(crow, order.to(plan.index.dtype), weight)


def _transposed_product(plan: _Plan, geo: _Geometry, grad_cols: torch.Tensor, input_rows: int) -> torch.Tensor:
    """``Sᵀ @ grad_cols``, (input rows, block channels), from one sort of the top-left corners.

    Input row ``p`` is corner ``j`` of the samples whose top-left corner is row ``p - shift_j``, so
    ``Sᵀ = Σ_j shift_j(T_j)``, where ``T_j`` has one entry per sample, in its top-left row, valued
    with corner ``j``'s weight. The four ``T_j`` share one CSR skeleton; the product with ``T_j``
    accumulates into the output rows shifted by ``shift_j`` (every corner lies inside the padded
    input, so no row falls off the end).
    """
    runs = _top_left_runs(plan, input_rows)
    grad_rows = grad_cols.new_empty(input_rows, grad_cols.shape[1])
    for j, shift in enumerate(_corner_shifts(geo)):
        rows = input_rows - shift  # top-left rows whose corner j is an input row
        t_j = _csr(runs.crow[: rows + 1], runs.order, runs.weight[j], (rows, grad_cols.shape[0]))
        target = grad_rows[shift:]
        torch.addmm(target, t_j, grad_cols, beta=0 if j == 0 else 1, out=target)
    return grad_rows


def _index_dtype(samples: int, input_rows: int) -> torch.dtype:
    small = 4 * samples < 2**31 - 1 and input_rows < 2**31 - 1
    return torch.int32 if small else torch.int64


# --------------------------------------------------------------------------------------------
# The kernel side: padded channels-last input rows, grouped weight matrices, matmuls.
# --------------------------------------------------------------------------------------------


def _padded_rows(x: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """(n, C, H, W) -> rows of (conv group, n, H+2, W+2, block in group) x block channels.

    The zero border keeps every corner index in range; conv-group-major order keeps the rows
    that one conv group reads together (see :func:`_group_by_top_left`).
    """
    n, per_group = x.shape[0], geo.blocks // geo.groups
    rows = x.new_zeros(geo.groups, n, geo.height + 2, geo.width + 2, per_group, geo.block_channels)
    grouped = x.view(n, geo.groups, per_group, geo.block_channels, geo.height, geo.width)
    rows[:, :, 1:-1, 1:-1] = grouped.permute(1, 0, 4, 5, 2, 3)
    return rows.view(-1, geo.block_channels)


def _grouped_weight(weight: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """(O, C/G, kh, kw) -> (G, (blocks/G) * K * block channels, O/G), the column order of S."""
    g, blocks = geo.groups, geo.blocks
    w = weight.reshape(g, geo.out_channels // g, blocks // g, geo.block_channels, geo.taps)
    return w.permute(0, 2, 4, 3, 1).reshape(g, -1, geo.out_channels // g)


def _ungroup_weight_grad(grad: torch.Tensor, geo: _Geometry, shape: torch.Size) -> torch.Tensor:
    g, blocks = geo.groups, geo.blocks
    grad = grad.view(g, blocks // g, geo.taps, geo.block_channels, geo.out_channels // g)
    return grad.permute(0, 4, 1, 3, 2).reshape(shape)


class _Chunk(NamedTuple):
    start: int
    stop: int
    plan: _Plan
    rows: torch.Tensor  # (G * n * (H+2) * (W+2) * blocks / G, block channels)

    @property
    def size(self) -> int:
        return self.stop - self.start


def _plan_bytes_per_image(geo: _Geometry, itemsize: int) -> int:
    """Memory of one image's sampling plan: 4 indices, 4 weights and 4 per-sample values."""
    return geo.taps * geo.positions * geo.blocks * (4 * 8 + 4 * itemsize + 3 * itemsize + 1)


def _chunks(geo, x, offset, mask, batch_chunk: int, plans: list[_Plan] | None = None):
    """Yield the batch chunks with their padded input rows and sampling plans, one at a time."""
    per_image_rows = (geo.height + 2) * (geo.width + 2) * geo.blocks
    for i, start in enumerate(range(0, geo.batch, batch_chunk)):
        stop = min(geo.batch, start + batch_chunk)
        n = stop - start
        if plans is None:
            index_dtype = _index_dtype(n * geo.positions * geo.taps * geo.blocks, n * per_image_rows)
            chunk_mask = None if mask is None else mask[start:stop]
            plan = _make_plan(geo, offset[start:stop], chunk_mask, index_dtype)
        else:
            plan = plans[i]
        yield _Chunk(start, stop, plan, _padded_rows(x[start:stop], geo))


def _columns(chunk: _Chunk) -> torch.Tensor:
    """The im2col matrix of bilinear samples, ``S @ X``: (samples, block channels).

    Each row of ``S`` has exactly four entries, so the product is a weighted sum of four input
    rows per sample: ``embedding_bag`` computes it in one fused gather.
    """
    plan = chunk.plan
    return nn.functional.embedding_bag(plan.index, chunk.rows, per_sample_weights=plan.weight, mode="sum")


def _gout_rows(grad_out: torch.Tensor, geo: _Geometry, chunk: _Chunk) -> torch.Tensor:
    """(n, O, Ho, Wo) -> (G, n * L, O/G), the row layout of the column matrix."""
    g = geo.groups
    view = grad_out[chunk.start:chunk.stop].reshape(chunk.size, g, -1, geo.positions)
    return view.permute(1, 0, 3, 2).reshape(g, chunk.size * geo.positions, -1)


class _DeformConv2dFunction(torch.autograd.Function):
    """Forward and explicit backward of the sparse im2col formulation (see the module docstring).

    The sampling plans are kept for the backward when they fit in the column budget; the
    column matrices are always rebuilt there, chunk by chunk (a cheap, in-cache sparse product).
    """

    @staticmethod
    def forward(ctx, x, offset, mask, weight, bias, geo: _Geometry, batch_chunk: int, budget: int):
        w_grouped = _grouped_weight(weight, geo)
        ho, wo = geo.out_size
        out = x.new_empty(geo.batch, geo.out_channels, ho, wo)
        keep = any(ctx.needs_input_grad[:3]) and (
            geo.batch * _plan_bytes_per_image(geo, x.element_size()) <= budget
        )
        plans = []
        for chunk in _chunks(geo, x, offset, mask, batch_chunk):
            cols = _columns(chunk).view(geo.groups, chunk.size * geo.positions, -1)
            out_rows = torch.bmm(cols, w_grouped).view(geo.groups, chunk.size, ho, wo, -1)
            out[chunk.start:chunk.stop] = out_rows.permute(1, 0, 4, 2, 3).reshape(chunk.size, -1, ho, wo)
            if keep:
                plans.append(chunk.plan)
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x, offset, mask, weight)
        ctx.geo, ctx.batch_chunk, ctx.plans = geo, batch_chunk, plans if keep else None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, offset, mask, weight = ctx.saved_tensors
        geo: _Geometry = ctx.geo
        need_x, need_offset, need_mask, need_weight, need_bias = ctx.needs_input_grad[:5]
        need_mask = need_mask and mask is not None
        grad_out = grad_out.contiguous()
        w_grouped = _grouped_weight(weight, geo)
        grad_x = torch.empty_like(x) if need_x else None
        grad_offset = torch.empty_like(offset) if need_offset else None
        grad_mask = torch.empty_like(mask) if need_mask else None
        grad_w = torch.zeros_like(w_grouped) if need_weight else None
        w_transposed = w_grouped.transpose(1, 2).contiguous()  # a contiguous operand: faster bmm
        plans, ctx.plans = ctx.plans, None
        for chunk in _chunks(geo, x, offset, mask, ctx.batch_chunk, plans):
            gout = _gout_rows(grad_out, geo, chunk)
            if need_weight:
                cols = _columns(chunk).view(geo.groups, gout.shape[1], -1)
                grad_w.baddbmm_(cols.transpose(1, 2), gout)
                del cols
            if not (need_x or need_offset or need_mask):
                continue
            grad_cols = torch.bmm(gout, w_transposed).view(-1, geo.block_channels)
            if need_x:
                grad_x[chunk.start:chunk.stop] = _input_grad(chunk, grad_cols, geo)
            if need_offset or need_mask:
                d_offset, d_mask = _offset_mask_grads(chunk, grad_cols, geo)
                if need_offset:
                    grad_offset[chunk.start:chunk.stop] = d_offset.reshape(chunk.size, -1, *geo.out_size)
                if need_mask:
                    grad_mask[chunk.start:chunk.stop] = d_mask.reshape(chunk.size, -1, *geo.out_size)
        grad_bias = grad_out.sum(dim=(0, 2, 3)) if need_bias else None
        if need_weight:
            grad_w = _ungroup_weight_grad(grad_w, geo, weight.shape)
        return grad_x, grad_offset, grad_mask, grad_w, grad_bias, None, None, None


def _input_grad(chunk: _Chunk, grad_cols: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """``Sᵀ @ grad cols``, cropped to the image and returned as (n, C, H, W)."""
    grad_rows = _transposed_product(chunk.plan, geo, grad_cols, chunk.rows.shape[0])
    per_group = geo.blocks // geo.groups
    grad_rows = grad_rows.view(geo.groups, chunk.size, geo.height + 2, geo.width + 2, per_group, -1)
    grad_x = grad_rows[:, :, 1:-1, 1:-1].permute(1, 0, 4, 5, 2, 3)
    return grad_x.reshape(chunk.size, geo.in_channels, geo.height, geo.width)


def _offset_mask_grads(chunk: _Chunk, grad_cols: torch.Tensor, geo: _Geometry):
    """Gradients w.r.t. Δp, as (n, offset groups, K, 2, L), and the mask, as (n, offset groups, K, L).

    With ``d_j = <grad col, corner j>`` (one sampled matmul over the pattern of S), the sample
    ``v = m * Σ_j w_j v_j`` has ``∂/∂Δy = m((1-fx)(d_bl - d_tl) + fx(d_br - d_tr))``, likewise for
    Δx, and ``∂/∂m = Σ_j w_j d_j``; all three vanish for a sample outside the image, as in torchvision.
    """
    plan, n = chunk.plan, chunk.size
    pattern = _sampling_matrix(plan, chunk.rows.shape[0])
    dots = torch.sparse.sampled_addmm(pattern, grad_cols, chunk.rows.t(), beta=0).values().view(-1, 4)
    d_tl, d_tr, d_bl, d_br = dots.t().contiguous().unbind(0)
    fy, fx, scale = plan.frac_y, plan.frac_x, plan.scale
    along_x_top, along_x_bottom = torch.lerp(d_tl, d_tr, fx), torch.lerp(d_bl, d_br, fx)
    grad_y = scale * (along_x_bottom - along_x_top)
    grad_x = scale * torch.lerp(d_tr - d_tl, d_br - d_bl, fy)
    grad_offset = torch.stack(
        (_from_sample_order(grad_y, geo, n), _from_sample_order(grad_x, geo, n)), dim=3
    )
    sample = torch.where(plan.inside, torch.lerp(along_x_top, along_x_bottom, fy), 0)
    return grad_offset, _from_sample_order(sample, geo, n)


# --------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: torch.Tensor | None = None,
    *,
    max_column_bytes: int = DEFAULT_MAX_COLUMN_BYTES,
) -> torch.Tensor:
    """Deformable convolution with the signature, layout and semantics of ``torchvision.ops.deform_conv2d``.

    ``input`` (N, C, H, W); ``weight`` (O, C/groups, kh, kw), groups inferred from ``C``;
    ``offset`` (N, 2 * offset_groups * kh * kw, Ho, Wo): per offset group, per tap (row-major), a
    ``(Δy, Δx)`` pair; ``mask`` (N, offset_groups * kh * kw, Ho, Wo) or None (v1). Samples read
    zero outside the image. ``max_column_bytes`` bounds the im2col matrix of one batch chunk
    (at least one image per chunk). float32 / float64 take the fast path; other dtypes the
    reference implementation. Gradients are first order (as torchvision's).
    """
    where = "deform_conv2d"
    geo = _check_arguments(input, offset, weight, bias, mask, stride, padding, dilation, where)
    budget = require_positive("max_column_bytes", max_column_bytes, where)
    if input.dtype not in _FAST_DTYPES:
        from cnnlab.units.deform_reference import deform_conv2d_reference

        return deform_conv2d_reference(input, offset, weight, bias, stride, padding, dilation, mask)
    samples_per_image = max(1, geo.taps * geo.positions * geo.blocks)
    bytes_per_image = max(1, geo.column_bytes_per_sample(input.element_size()))
    by_cache = max(_CHUNK_SAMPLES // samples_per_image, _CHUNK_MIN_POSITIONS // max(1, geo.positions))
    batch_chunk = max(1, min(budget // bytes_per_image, by_cache))
    contiguous = [None if t is None else t.contiguous() for t in (input, offset, mask, weight)]
    return _DeformConv2dFunction.apply(*contiguous, bias, geo, batch_chunk, budget)


class DeformConv2d(nn.Module):
    """Deformable convolution, v1 (Dai et al. 2017) or modulated v2 (Zhu et al. 2019).

    ``offset_conv`` (and ``mask_conv`` when ``modulated``) are regular convolutions with the main
    kernel's size, stride, padding and dilation; they predict ``2 * offset_groups * K`` offsets
    (and ``offset_groups * K`` mask logits, passed through a sigmoid) per output pixel. Both start
    at zero weight and bias (Dai et al. 2017, Sec. 2.1; Zhu et al. 2019, Sec. 3.1), so at
    initialisation v1 is exactly a plain convolution and v2 is half a plain convolution plus the
    bias: the mask starts at ``sigmoid(0) = 0.5`` (the torchvision / mmcv convention).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        offset_groups: int = 1,
        modulated: bool = False,
        bias: bool = True,
        max_column_bytes: int = DEFAULT_MAX_COLUMN_BYTES,
    ) -> None:
        where = f"DeformConv2d({in_channels}->{out_channels})"
        check_conv_args(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, where=where)
        require_positive("offset_groups", offset_groups, where)
        if in_channels % offset_groups != 0:
            raise ConfigError(f"{where}: in_channels={in_channels} is not divisible by offset_groups={offset_groups}")
        for name, flag in (("modulated", modulated), ("bias", bias)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{where}: {name} must be True or False, got {flag!r}")
        self.max_column_bytes = require_positive("max_column_bytes", max_column_bytes, where)
        super().__init__()
        kh, kw = pair("kernel_size", kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding = pair("stride", stride), pair("padding", padding)
        self.dilation, self.groups = pair("dilation", dilation), groups
        self.offset_groups, self.modulated = offset_groups, modulated
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.offset_conv = self._predictor(2 * offset_groups * kh * kw)
        self.mask_conv = self._predictor(offset_groups * kh * kw) if modulated else None
        self.reset_parameters()

    def _predictor(self, channels: int) -> nn.Conv2d:
        return nn.Conv2d(
            self.in_channels, channels, self.kernel_size, stride=self.stride,
            padding=self.padding, dilation=self.dilation, bias=True,
        )

    def reset_parameters(self) -> None:
        """Main kernel as ``nn.Conv2d`` initialises it; offset and mask predictors at zero."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
        for predictor in (self.offset_conv, self.mask_conv):
            if predictor is not None:
                nn.init.zeros_(predictor.weight)
                nn.init.zeros_(predictor.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ConfigError(
                f"DeformConv2d({self.in_channels}->{self.out_channels}): input must be "
                f"(N, {self.in_channels}, H, W), got {got}"
            )
        where = f"DeformConv2d({self.in_channels}->{self.out_channels})"
        _output_size(tuple(x.shape[-2:]), self.kernel_size, self.padding, self.stride, self.dilation, where)
        offset = self.offset_conv(x)
        mask = torch.sigmoid(self.mask_conv(x)) if self.mask_conv is not None else None
        return deform_conv2d(
            x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask,
            max_column_bytes=self.max_column_bytes,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, offset_groups={self.offset_groups}, modulated={self.modulated}, "
            f"bias={self.bias is not None}"
        )
