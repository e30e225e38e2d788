"""Pixel-row arithmetic for sparse execution (:mod:`.sparse`): activations held as the rows of
their changed pixels, which outputs of a sliding layer a change reaches, and a sliding layer
computed at chosen output positions from a lookup table of input rows."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx

from . import nodes


@dataclass
class Dense:
    """An activation of every frame of a batch: ``full`` (N, C, H, W) and ``mask`` (N, 1, H, W,
    bool) marking where it may differ from the reference's (None: anywhere)."""

    full: torch.Tensor
    mask: torch.Tensor | None


@dataclass
class Rows:
    """The changed pixels of an activation of shape ``shape`` (N, C, H, W): ``data`` (P, C) at
    flat positions ``pos`` ((n * H + y) * W + x, increasing) — exactly where ``mask`` (N, 1, H,
    W) is set; everywhere else the reference's value, the cached output of node ``base``."""

    data: torch.Tensor
    pos: torch.Tensor
    shape: tuple[int, int, int, int]
    base: fx.Node
    mask: torch.Tensor


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Flat positions (increasing) where ``mask`` is set."""
    return mask.reshape(-1).nonzero().reshape(-1)


def reach(mask: torch.Tensor, sl: nodes.Sliding, Ho: int, Wo: int) -> torch.Tensor:
    """(N, 1, Ho, Wo) bool: the outputs of a sliding layer whose inputs meet ``mask``."""
    (kh, kw), (sh, sw), (ph, pw) = sl.kernel, sl.stride, sl.pad
    m = F.pad(mask, (pw, pw, ph, ph), value=False) if ph or pw else mask
    rows = m[:, :, 0 : (Ho - 1) * sh + 1 : sh]
    for i in range(1, kh):
        rows = rows | m[:, :, i : i + (Ho - 1) * sh + 1 : sh]
    out = rows[..., 0 : (Wo - 1) * sw + 1 : sw]
    for j in range(1, kw):
        out = out | rows[..., j : j + (Wo - 1) * sw + 1 : sw]
    return out


def lookup(
    base: torch.Tensor, v: Rows, pad: tuple[int, int], fill: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A table of input rows — the reference's pixels ``base`` (H * W, C), the changed ones,
    the padding value — and, for every position of the padded input (N, H + 2 ph, W + 2 pw),
    the row holding its value."""
    N, C, H, W = v.shape
    ph, pw = pad
    Hp, Wp = H + 2 * ph, W + 2 * pw
    where = torch.full((N, Hp, Wp), H * W + len(v.pos), dtype=torch.int64)
    where[:, ph : ph + H, pw : pw + W] = torch.arange(H * W).view(H, W)
    n, rem = v.pos // (H * W), v.pos % (H * W)
    changed = (n * Hp + rem // W + ph) * Wp + rem % W + pw
    where.view(-1).index_copy_(0, changed, H * W + torch.arange(len(v.pos)))
    table = torch.cat([base, v.data, torch.full((1, C), fill, dtype=v.data.dtype)])
    return table, where


def columns(
    table: torch.Tensor, where: torch.Tensor, pos: torch.Tensor, sl: nodes.Sliding, out_hw: tuple[int, int]
) -> torch.Tensor:
    """(P, taps, C): the input rows each output position ``pos`` of the layer reads (im2col of
    the chosen outputs only)."""
    _, Hp, Wp = where.shape
    Ho, Wo = out_hw
    (kh, kw), (sh, sw) = sl.kernel, sl.stride
    oy, ox = torch.arange(0, kh, sl.dilation[0]), torch.arange(0, kw, sl.dilation[1])
    n, rem = pos // (Ho * Wo), pos % (Ho * Wo)
    y0, x0 = (rem // Wo) * sh, (rem % Wo) * sw
    flat = (n[:, None, None] * Hp + y0[:, None, None] + oy[None, :, None]) * Wp + x0[:, None, None] + ox
    rows = table.index_select(0, where.view(-1).index_select(0, flat.reshape(-1)))
    return rows.view(len(pos), len(oy) * len(ox), table.shape[1])


def weight_matrix(sl: nodes.Sliding) -> torch.Tensor:
    """A convolution's weights for :func:`sliding_rows`: (taps * C, C') for groups of 1,
    (taps, C) for depthwise, as given otherwise."""
    w = sl.weight
    if sl.groups == 1:
        return w.permute(2, 3, 1, 0).reshape(-1, w.shape[0]).contiguous()
    if sl.groups == w.shape[0] and w.shape[1] == 1:  # depthwise
        return w.reshape(w.shape[0], -1).t().contiguous()
    return w


def sliding_rows(sl: nodes.Sliding, cols: torch.Tensor, matrix: torch.Tensor | None) -> torch.Tensor:
    """(P, C') outputs of the layer from its input columns ``cols`` (P, taps, C)."""
    if sl.kind == "max":
        return cols.amax(1)
    if sl.kind == "avg":
        return cols.mean(1)
    P, k, C = cols.shape
    if sl.groups == 1:
        flat = cols.flatten(1)
        return torch.addmm(sl.bias, flat, matrix) if sl.bias is not None else flat @ matrix
    if sl.groups == C == sl.weight.shape[0]:  # depthwise
        out = (cols * matrix).sum(1)
    else:
        G, w = sl.groups, sl.weight  # (C', C / G, kh, kw)
        wg = w.reshape(G, w.shape[0] // G, C // G, k)
        out = torch.einsum("pkgc,gock->pgo", cols.view(P, k, G, C // G), wg).flatten(1)
    return out + sl.bias if sl.bias is not None else out
