"""Static cameras: consecutive sampled frames differ in a few regions, so each frame is run as a
change of a reference frame: the reference's activations are cached once, the changed region
of each frame is found block-wise on the model's (low-resolution) input, and only its windows
are recomputed. The reference is refreshed when the changed area grows too large.

Exact at ``threshold=0`` (every pixel that differs from the reference is inside the window);
above it, blocks whose largest difference is at most ``threshold`` keep the reference's pixels
(approximate)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .incremental import Incremental, Win


@dataclass
class StaticStats:
    """Frames run: the first (the first reference), whole (changed too much: run whole, the last
    of a batch becomes the reference), unchanged (the reference's output reused), incremental;
    references taken; mean changed share over incremental frames; multiply-adds done vs whole
    inference; seconds."""

    frames: int = 0
    references: int = 0
    whole: int = 0
    unchanged: int = 0
    incremental: int = 0
    changed_share: list[float] = field(default_factory=list)
    macs_done: int = 0
    macs_full: int = 0
    seconds: float = 0.0

    @property
    def mean_changed_share(self) -> float:
        return float(np.mean(self.changed_share)) if self.changed_share else 0.0


def changed_boxes(frames: torch.Tensor, ref: torch.Tensor, threshold: float, block: int) -> np.ndarray:
    """Per frame, the box ``(y0, y1, x0, x1)`` (pixels, end exclusive) covering every
    ``block`` x ``block`` block whose largest absolute difference from ``ref`` (over channels)
    exceeds ``threshold``; ``(0, 0, 0, 0)`` when none does."""
    H, W = frames.shape[2:]
    d = (frames - ref).abs().amax(1, keepdim=True)
    blocks = F.max_pool2d(d, block, block, ceil_mode=True)[:, 0] > threshold  # (N, Hb, Wb)
    rows, cols = blocks.any(2).numpy(), blocks.any(1).numpy()
    out = np.zeros((len(frames), 4), np.int64)
    for n in range(len(frames)):
        r, c = np.flatnonzero(rows[n]), np.flatnonzero(cols[n])
        if len(r):
            out[n] = (r[0] * block, min((r[-1] + 1) * block, H), c[0] * block, min((c[-1] + 1) * block, W))
    return out


class StaticCamera:
    """``model`` on a static camera's frames, each run as the change from a reference frame.

    ``threshold``: largest per-pixel difference (model input units) a block may have and count
    as unchanged (0: exact). ``block``: block side, pixels. ``refresh``: a frame whose changed
    box covers more than this share of the frame becomes the new reference (whole inference).
    ``tau`` < 1 also cuts windows as in approximate occlusion."""

    def __init__(
        self,
        model: torch.nn.Module,
        threshold: float = 0.0,
        block: int = 4,
        refresh: float = 0.6,
        batch_size: int = 32,
        tau: float = 1.0,
    ):
        self.model = model.eval()
        self.threshold, self.block, self.refresh = float(threshold), int(block), float(refresh)
        self.batch_size, self.tau = int(batch_size), float(tau)
        self.engine: Incremental | None = None
        self.ref: torch.Tensor | None = None
        self.stats = StaticStats()

    def _reference(self, frame: torch.Tensor) -> Any:
        self.ref = frame[None].contiguous()
        if self.engine is None:
            self.engine = Incremental(self.model, self.ref, tau=self.tau)
        else:
            self.engine.rebase(self.ref)
        self.stats.references += 1
        self.stats.macs_done += self.engine.macs_per_input
        return self.engine.output

    def run(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Outputs (N, ...) for frames (N, C, H, W), in order; the reference carries over to the
        next call (consecutive chunks of one stream)."""
        t0 = time.perf_counter()
        x = torch.as_tensor(frames, dtype=torch.float32)
        H, W = x.shape[2:]
        outs: list[torch.Tensor] = []
        i = 0
        with torch.inference_mode():
            while i < len(x):
                if self.ref is None:
                    outs.append(self._reference(x[i]).reshape(1, -1))
                    i += 1
                    continue
                chunk = x[i : i + self.batch_size]
                i += len(chunk)
                boxes = changed_boxes(chunk, self.ref, self.threshold, self.block)
                share = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2]) / (H * W)
                big = share > self.refresh
                out = torch.empty(len(chunk), self.engine.output.numel())
                small = np.flatnonzero(~big)
                if len(small):
                    out[small] = self._incremental(chunk[small], boxes[small], share[small])
                whole = np.flatnonzero(big)
                if len(whole):  # run whole, and the last of them is the new reference
                    out[whole] = self.model(chunk[whole]).reshape(len(whole), -1)
                    self.stats.whole += len(whole)
                    self.stats.macs_done += len(whole) * self.engine.macs_per_input
                    self._reference(chunk[whole[-1]])
                outs.append(out)
        self.stats.frames += len(x)
        self.stats.macs_full += len(x) * (self.engine.macs_per_input if self.engine else 0)
        self.stats.seconds += time.perf_counter() - t0
        return torch.cat(outs)

    def _incremental(self, frames: torch.Tensor, boxes: np.ndarray, share: np.ndarray) -> torch.Tensor:
        eng = self.engine
        assert eng is not None
        out = eng.output.reshape(1, -1).expand(len(frames), -1).clone()
        moved = np.flatnonzero(share > 0)
        self.stats.unchanged += len(frames) - len(moved)
        if not len(moved):
            return out
        H, W = frames.shape[2:]
        b = boxes[moved]
        h, w = int((b[:, 1] - b[:, 0]).max()), int((b[:, 3] - b[:, 2]).max())
        y = np.minimum(b[:, 0], H - h)
        x = np.minimum(b[:, 2], W - w)
        crops = [frames[k, :, y[j] : y[j] + h, x[j] : x[j] + w] for j, k in enumerate(moved.tolist())]
        data = torch.stack(crops).contiguous(memory_format=torch.channels_last)
        before = eng.counters.macs_done
        out[moved] = eng.run(Win(data, y, x)).reshape(len(moved), -1)
        self.stats.macs_done += eng.counters.macs_done - before
        self.stats.incremental += len(moved)
        self.stats.changed_share += share[moved].tolist()
        return out


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
