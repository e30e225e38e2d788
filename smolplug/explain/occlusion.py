"""Occlusion explanations: the drop of the target's score when a patch of the image is replaced
by a baseline, for every patch position of Captum's grid, with each position run incrementally
(only the windows the patch reaches, from the unoccluded image's cached activations)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .incremental import Incremental, Win
from .windows import gather, hwc


@dataclass
class OcclusionResult:
    """``heatmap[i, j]``: base score minus the score with the patch at grid position (i, j)
    (rows ``i*stride[0]`` ..., Captum's grid: ``ceil((H - P) / S) + 1`` positions per axis, the
    last patch clipped at the border). ``attribution``: shaped like the input (1, C, H, W),
    Captum's ``Occlusion`` formula (each pixel's mean drop over the patches covering it).
    ``computed``: which grid positions were run (all of them unless drilling down). ``stats``:
    positions and variants run, multiply-adds done and saved, per-stage seconds, fallbacks."""

    heatmap: np.ndarray
    attribution: torch.Tensor
    target: int
    base_score: float
    computed: np.ndarray
    logits: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def grid(size: tuple[int, int], patch: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """Patch positions per axis on Captum's grid."""
    return tuple(max(math.ceil((n - p) / s), 0) + 1 for n, p, s in zip(size, patch, stride, strict=True))  # type: ignore[return-value]


class Occluder:
    """Runs patch positions of one image through an :class:`Incremental` engine."""

    def __init__(
        self,
        model: torch.nn.Module,
        image: torch.Tensor,
        patch,
        stride,
        baseline,
        tau: float = 1.0,
        tail: str = "torch",
        whole_at: float = 1.0,
    ):
        self.image = image
        self.image_hwc = hwc(image)
        H, W = image.shape[2:]
        self.patch = (min(patch[0], H), min(patch[1], W))
        self.stride = stride
        self.baseline = torch.as_tensor(baseline, dtype=image.dtype).expand_as(image).contiguous()
        self.engine = Incremental(model, image, tau=tau, tail=tail, whole_at=whole_at)

    def window(self, positions: np.ndarray) -> Win:
        """The occluded windows of the input for grid positions (n, 2)."""
        (ph, pw), (sy, sx) = self.patch, self.stride
        H, W = self.image.shape[2:]
        top, left = positions[:, 0] * sy, positions[:, 1] * sx
        y, x = np.minimum(top, H - ph).astype(np.int64), np.minimum(left, W - pw).astype(np.int64)
        data = gather(self.image_hwc, y, x, ph, pw)
        for b in range(len(positions)):
            t, lft = int(top[b]), int(left[b])
            r0, c0 = t - int(y[b]), lft - int(x[b])
            data[b, :, r0:, c0:] = self.baseline[0, :, t : t + ph - r0, lft : lft + pw - c0]
        return Win(data, y, x)

    def scores(self, positions: np.ndarray, batch_size: int) -> torch.Tensor:
        out = [
            self.engine.run(self.window(positions[i : i + batch_size]))
            for i in range(0, len(positions), batch_size)
        ]
        return torch.cat(out).reshape(len(positions), -1)


def _interpolate(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Bilinear estimate on the whole grid from values on the grid lines ``rows`` x ``cols``."""
    across = np.stack([np.interp(np.arange(shape[1]), cols, r) for r in values])
    return np.stack([np.interp(np.arange(shape[0]), rows, c) for c in across.T], axis=1)


def occlusion(
    model: torch.nn.Module,
    image: torch.Tensor | np.ndarray,
    patch: int | Sequence[int] = 16,
    stride: int | Sequence[int] = 4,
    baseline: float | torch.Tensor = 0.0,
    target: int | None = None,
    *,
    tau: float = 1.0,
    drill_down: float | None = None,
    coarse: int = 4,
    batch_size: int = 32,
    return_logits: bool = False,
    tail: str = "auto",
    whole_at: float = 0.5,
) -> OcclusionResult:
    """Occlusion heatmap and attribution of ``model`` (a ``torch.nn.Module``, put in eval mode)
    for ``image`` (C, H, W) or (1, C, H, W), Captum's ``Occlusion`` with sliding window
    (C, *patch) and strides (C, *stride).

    Exact by default: every position's logits are the model's on the occluded image (up to
    float rounding). ``target`` None: the class the model predicts for the image. Approximate:
    ``tau`` < 1 cuts each layer's changed window to that fraction of the layer (pick it with
    :func:`smolplug.explain.quality.tau_table` for a target quality); ``drill_down`` = f runs
    every ``coarse``-th grid position first, then the fraction f of the remaining positions
    whose interpolated drop is highest, and interpolates the rest.

    ``tail``: once the changed windows cover ``whole_at`` of each layer or more (the rest is
    pasted from the cache: exact at any value), the rest of the model runs whole through
    onnxruntime (``"onnx"``; ``"auto"``: where it was also faster than the windowed torch run
    from there, timed once) or torch (``"torch"``); see
    :class:`~smolplug.explain.incremental.Incremental`."""
    t0 = time.perf_counter()
    x = torch.as_tensor(image, dtype=torch.float32)
    x = (x[None] if x.dim() == 3 else x).contiguous()
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"image must be (C, H, W) or (1, C, H, W), got {tuple(x.shape)}")
    P, S = _pair(patch), _pair(stride)
    was_training = model.training
    model.eval()
    try:
        occ = Occluder(model, x, P, S, baseline, tau, tail, whole_at)
        t1 = time.perf_counter()
        base = occ.engine.output.reshape(-1)
        tgt = int(base.argmax()) if target is None else int(target)
        ny, nx = grid(tuple(x.shape[2:]), occ.patch, S)
        everything = np.stack(np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij"), -1).reshape(-1, 2)
        heat = np.zeros((ny, nx))
        computed = np.zeros((ny, nx), bool)
        logits = np.zeros((ny, nx, base.numel()), np.float32) if return_logits else None

        def run(pos: np.ndarray) -> None:
            out = occ.scores(pos, batch_size)
            heat[pos[:, 0], pos[:, 1]] = (base[tgt] - out[:, tgt]).double().numpy()
            computed[pos[:, 0], pos[:, 1]] = True
            if logits is not None:
                logits[pos[:, 0], pos[:, 1]] = out.numpy()

        if drill_down is None:
            run(everything)
        else:
            rows = np.unique(np.r_[np.arange(0, ny, coarse), ny - 1])
            cols = np.unique(np.r_[np.arange(0, nx, coarse), nx - 1])
            run(np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2))
            estimate = _interpolate(rows, cols, heat[np.ix_(rows, cols)], (ny, nx))
            rest = everything[~computed.reshape(-1)]
            k = min(len(rest), math.ceil(drill_down * len(rest)))
            order = np.argsort(-estimate[rest[:, 0], rest[:, 1]], kind="stable")
            heat[~computed] = estimate[~computed]
            if k:
                run(rest[order[:k]])
        t2 = time.perf_counter()
        attribution = _attribution(heat, tuple(x.shape), occ.patch, S)
        t3 = time.perf_counter()
    finally:
        model.train(was_training)
    c = occ.engine.counters
    stats = {
        "positions": int(computed.sum()),
        "grid": (ny, nx),
        "variants": c.variants,
        "batches": c.batches,
        "traced": occ.engine.traced,
        "why_untraced": occ.engine.why_untraced,
        "macs_per_forward": occ.engine.macs_per_input,
        "macs_done": c.macs_done,
        "macs_full": c.macs_full,
        "flops_saved": 1.0 - c.macs_done / c.macs_full if c.macs_full and occ.engine.traced else 0.0,
        "fallbacks": dict(c.fallbacks),
        "tail": {
            "mode": tail,
            "whole_at": whole_at,
            "onnx_batches": dict(c.tail_onnx),
            "torch_batches": dict(c.tail_torch),
            "why_torch": dict(c.tail_why),
        },
        "seconds": {
            "trace_and_cache": t1 - t0,
            "positions": t2 - t1,
            "attribution": t3 - t2,
            "total": t3 - t0,
        },
    }
    return OcclusionResult(heat, attribution, tgt, float(base[tgt]), computed, logits, stats)


def _attribution(
    heat: np.ndarray, shape: tuple[int, ...], patch: tuple[int, int], stride: tuple[int, int]
) -> torch.Tensor:
    """Captum's formula: each pixel's drops summed over the patches covering it, divided by how
    many cover it; the same on every channel."""
    _, C, H, W = shape
    total = torch.zeros(H, W, dtype=torch.float64)
    count = torch.zeros(H, W, dtype=torch.float64)
    ph, pw = patch
    for i in range(heat.shape[0]):
        for j in range(heat.shape[1]):
            t, lft = i * stride[0], j * stride[1]
            total[t : t + ph, lft : lft + pw] += heat[i, j]
            count[t : t + ph, lft : lft + pw] += 1
    return (total / count).float().expand(1, C, H, W).contiguous()
