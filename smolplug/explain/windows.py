"""Window arithmetic, in one place: which part of a layer's output a change to its input
reaches, and which part of the input that output window reads.

The arithmetic works on one spatial axis at a time, for a batch of variants of one input (each
variant changed in its own window; all windows of a batch share one size, so the batch runs as
one tensor). Coordinates are in the layer's unpadded input; ``pad`` is the layer's leading
padding on that axis. :func:`gather` and :func:`paste` copy batches of windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Axis:
    """One axis of a sliding-window layer (convolution or pooling)."""

    kernel: int  # effective extent: dilation * (kernel - 1) + 1
    stride: int
    pad: int  # leading padding
    size_in: int  # unpadded input length
    size_out: int


def affected(starts: np.ndarray, width: int, ax: Axis) -> tuple[np.ndarray, np.ndarray]:
    """Output window ``[lo, hi)`` each input window ``[start, start + width)`` reaches.

    Output ``o`` reads padded inputs ``[o*S, o*S + K)``, i.e. unpadded ``[o*S - pad, o*S - pad + K)``;
    it changes when that meets the input window: ``lo = max(ceil((pad + start - K + 1) / S), 0)``,
    ``hi = min(floor((pad + start + width - 1) / S) + 1, size_out)``. ``hi <= lo`` means no
    output reads the change (a row only padding-side strides skip)."""
    s, k, p = ax.stride, ax.kernel, ax.pad
    lo = np.maximum(-((-(p + starts - k + 1)) // s), 0)
    hi = np.minimum((p + starts + width - 1) // s + 1, ax.size_out)
    return lo, hi


def common(lo: np.ndarray, hi: np.ndarray, size: int, tau: float = 1.0) -> tuple[np.ndarray, int]:
    """One window size for the whole batch (the widest), each window moved back inside the
    layer where it would overhang. With ``tau < 1`` (projective-field threshold) a window wider
    than ``ceil(tau * size)`` is cut to that width around its centre: what falls outside keeps
    the unchanged input's value (approximate)."""
    width = max(int((hi - lo).max()), 1)
    if tau < 1.0:
        cap = max(1, math.ceil(tau * size))
        if width > cap:
            centre = (lo + hi) // 2
            lo = centre - cap // 2
            width = cap
    width = min(width, size)
    start = np.clip(lo, 0, size - width)
    return start.astype(np.int64), width


def reads(start: np.ndarray, width: int, ax: Axis) -> tuple[np.ndarray, int]:
    """Input rows (in padded coordinates) output window ``[start, start + width)`` reads: starts
    and the common length ``(width - 1) * S + K``."""
    return start * ax.stride, (width - 1) * ax.stride + ax.kernel


def union(a0: np.ndarray, an: int, b0: np.ndarray, bn: int, size: int) -> tuple[np.ndarray, int]:
    """Smallest common window covering both operands' windows (residual add, other elementwise
    binary operations)."""
    lo = np.minimum(a0, b0)
    hi = np.maximum(a0 + an, b0 + bn)
    return common(lo, hi, size)


def overlap(a: int, an: int, b: int, bn: int) -> tuple[int, int]:
    """Intersection ``[lo, hi)`` of ``[a, a + an)`` and ``[b, b + bn)`` (empty when hi <= lo)."""
    return max(a, b), min(a + an, b + bn)


def out_size(size_in: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, ceil: bool = False) -> int:
    """Output length of a sliding-window layer (PyTorch's rule, ceil_mode included)."""
    span = size_in + pad_lo + pad_hi - kernel
    n = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (n - 1) * stride >= size_in + pad_lo:
        n -= 1
    return n


@dataclass
class Win:
    """A batch of changed windows of one 4-D activation: ``data`` (B, C, h, w) at per-variant
    origins ``y``, ``x`` (int64 arrays); elsewhere the activation equals the base one."""

    data: torch.Tensor
    y: np.ndarray
    x: np.ndarray


def hwc(t: torch.Tensor) -> torch.Tensor:
    """A (1, C, H, W) tensor as contiguous (H, W, C), the layout :func:`gather` reads."""
    return t[0].permute(1, 2, 0).contiguous()


def gather(base: torch.Tensor, y: np.ndarray, x: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(B, C, h, w) windows (channels-last memory, which the CPU convolutions run fastest on) of
    an (H, W, C) tensor at per-variant origins: one copy; a stack of slices is faster on the CPU
    than an indexed gather."""
    crops = [base[i : i + h, j : j + w] for i, j in zip(y.tolist(), x.tolist(), strict=True)]
    return torch.stack(crops).permute(0, 3, 1, 2)


def paste(region: torch.Tensor, patch: torch.Tensor, oy: np.ndarray, ox: np.ndarray) -> None:
    """Write ``patch`` (B, C, ph, pw) into ``region`` (B, C, rh, rw) at per-variant offsets,
    clipped to the region (rows of a change no output of the region reads are dropped)."""
    ph, pw = patch.shape[2:]
    rh, rw = region.shape[2:]
    for b, (i, j) in enumerate(zip(oy.tolist(), ox.tolist(), strict=True)):
        y0, y1, x0, x1 = max(i, 0), min(i + ph, rh), max(j, 0), min(j + pw, rw)
        if y1 > y0 and x1 > x0:
            region[b, :, y0:y1, x0:x1] = patch[b, :, y0 - i : y1 - i, x0 - j : x1 - j]
