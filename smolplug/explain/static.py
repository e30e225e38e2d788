"""Static cameras: consecutive sampled frames differ in a few regions, so each frame is run as a
change of a reference frame: the reference's activations are cached, the changed blocks of each
frame are found on the model's own (low-resolution) input, and each layer computes only the
pixels those blocks reach (:mod:`.sparse`). The last frame of every batch becomes the
reference of the next (its activations are at hand), so a change is measured against a frame
at most one batch earlier.

Exact at ``threshold=0`` (every pixel that differs from the reference is inside a changed
block); above it, blocks whose largest difference is at most ``threshold`` keep the
reference's pixels (approximate; the reference then holds, per block, the pixels last
propagated, so what is ignored never drifts further than the threshold)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .sparse import SparseExecutor


@dataclass
class StaticStats:
    """Frames run: the first (the first reference), unchanged (the reference's output reused),
    incremental; references taken; changed share of the input per incremental frame; output
    pixels computed out of those of the layers run sparsely; multiply-adds done vs whole
    inference; seconds."""

    frames: int = 0
    references: int = 0
    unchanged: int = 0
    incremental: int = 0
    changed_share: list[float] = field(default_factory=list)
    pixels: tuple[int, int] = (0, 0)
    macs_done: int = 0
    macs_full: int = 0
    seconds: float = 0.0

    @property
    def mean_changed_share(self) -> float:
        return float(np.mean(self.changed_share)) if self.changed_share else 0.0


def changed_blocks(frames: torch.Tensor, ref: torch.Tensor, threshold: float, block: int) -> torch.Tensor:
    """(N, 1, H, W) bool: the pixels of every ``block`` x ``block`` block whose largest absolute
    difference from ``ref`` (over channels) exceeds ``threshold``."""
    H, W = frames.shape[2:]
    d = (frames - ref).abs().amax(1, keepdim=True)
    blocks = F.max_pool2d(d, block, block, ceil_mode=True) > threshold
    return blocks.repeat_interleave(block, 2).repeat_interleave(block, 3)[:, :, :H, :W]


def changed_boxes(frames: torch.Tensor, ref: torch.Tensor, threshold: float, block: int) -> np.ndarray:
    """Per frame, the box ``(y0, y1, x0, x1)`` (pixels, end exclusive) around every changed
    block (see :func:`changed_blocks`); ``(0, 0, 0, 0)`` when none changed."""
    m = changed_blocks(frames, ref, threshold, block)[:, 0]
    rows, cols = m.any(2).numpy(), m.any(1).numpy()
    out = np.zeros((len(frames), 4), np.int64)
    for n in range(len(frames)):
        r, c = np.flatnonzero(rows[n]), np.flatnonzero(cols[n])
        if len(r):
            out[n] = (r[0], r[-1] + 1, c[0], c[-1] + 1)
    return out


class StaticCamera:
    """``model`` on a static camera's frames, each run as the change from a reference frame.

    ``threshold``: largest per-pixel difference (model input units) a block may have and count
    as unchanged (0: exact). ``block``: block side, pixels. ``batch_size``: frames run together
    against one reference (the last of them is the next reference). ``dense_share``: a layer
    runs whole when more of its outputs changed."""

    def __init__(
        self,
        model: torch.nn.Module,
        threshold: float = 0.0,
        block: int = 4,
        batch_size: int = 16,
        dense_share: float = 0.5,
    ):
        self.model = model.eval()
        self.threshold, self.block = float(threshold), int(block)
        self.batch_size, self.dense_share = int(batch_size), float(dense_share)
        self.engine: SparseExecutor | None = None
        self.stats = StaticStats()

    def run(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Outputs (N, ...) for frames (N, C, H, W), in order; the reference carries over to the
        next call (consecutive chunks of one stream)."""
        t0 = time.perf_counter()
        x = torch.as_tensor(frames, dtype=torch.float32)
        outs: list[torch.Tensor] = []
        s = self.stats
        with torch.inference_mode():
            i = 0
            if self.engine is None and len(x):
                # a copy, not a view: callers may reuse their buffers for the next frames
                self.engine = SparseExecutor(self.model, x[:1].clone(), self.dense_share)
                s.references += 1
                s.macs_done += self.engine.macs_per_input
                outs.append(self.engine.output.reshape(1, -1))
                i = 1
            eng = self.engine
            while i < len(x):
                chunk = x[i : i + self.batch_size]
                i += len(chunk)
                ref = eng.base
                mask = changed_blocks(chunk, ref, self.threshold, self.block)
                share = mask.flatten(1).float().mean(1)
                moved = share > 0
                s.unchanged += int((~moved).sum())
                s.incremental += int(moved.sum())
                s.changed_share += share[moved].tolist()
                if self.threshold > 0:
                    chunk = torch.where(mask, chunk, ref)
                before = eng.counters.macs_done
                out = eng.run(chunk.contiguous(), mask, adopt=len(chunk) - 1)
                s.references += 1
                s.macs_done += eng.counters.macs_done - before
                outs.append(out.reshape(len(chunk), -1))
            if eng is not None:
                s.pixels = tuple(eng.pixels)
        s.frames += len(x)
        s.macs_full += len(x) * (self.engine.macs_per_input if self.engine else 0)
        s.seconds += time.perf_counter() - t0
        return torch.cat(outs) if outs else torch.zeros(0)


def static_camera_plan(
    plan: Any,
    model: torch.nn.Module,
    frames: torch.Tensor | np.ndarray,
    threshold: float = 0.0,
    accuracy: float | None = None,
    **camera: Any,
) -> Any:
    """``plan`` (a :class:`~smolplug.plan.costmodel.Plan` whose proxy stage is named "dnn") with
    the proxy run as a :class:`StaticCamera`, costed like the other candidates: its one-core rate
    is measured on ``frames`` (a sample of the stream, in order) against the same frames run
    whole, and the "dnn" stage's measured rates are scaled by that ratio. ``accuracy``: measured
    by the caller on its labels; at ``threshold=0`` (exact) the plan's own."""
    import dataclasses

    from ..plan.costmodel import PlanError, Stage

    if accuracy is None:
        if threshold > 0:
            raise PlanError("an approximate static-camera plan needs its measured accuracy")
        accuracy = plan.accuracy
    x = torch.as_tensor(frames, dtype=torch.float32)
    cam = StaticCamera(model, threshold=threshold, **camera)
    cam.run(x[:1])  # the reference: traced and cached once per stream, not per frame
    t0 = time.perf_counter()
    cam.run(x[1:])
    t_inc = time.perf_counter() - t0
    with torch.inference_mode():
        model(x[1 : 1 + cam.batch_size])  # warm-up
        t0 = time.perf_counter()
        for s in range(1, len(x), cam.batch_size):
            model(x[s : s + cam.batch_size])
    ratio = (time.perf_counter() - t0) / max(t_inc, 1e-9)
    stages = tuple(
        Stage(s.name, {k: v * ratio for k, v in s.rates.items()}) if s.name == "dnn" else s
        for s in plan.stages
    )
    if stages == plan.stages:
        raise PlanError(f"plan {plan.name!r} has no 'dnn' stage to run as a static camera")
    params = {**plan.params, "static_camera": {"threshold": threshold, "speedup": ratio, **camera}}
    return dataclasses.replace(
        plan, name=f"{plan.name}+static", stages=stages, accuracy=accuracy, params=params
    )
