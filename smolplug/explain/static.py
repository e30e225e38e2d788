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
    """Frames run, of them: references (whole inference), unchanged (the reference's output
    reused), incremental; mean changed share of the frame over incremental frames; multiply-adds
    done vs whole inference; seconds."""

    frames: int = 0
    references: int = 0
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
        self.engine = Incremental(self.model, self.ref, tau=self.tau)
        self.ref_hwc = None
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
                boxes = changed_boxes(chunk, self.ref, self.threshold, self.block)
                share = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2]) / (H * W)
                big = np.flatnonzero(share > self.refresh)
                n = int(big[0]) if len(big) else len(chunk)  # frames before the next reference
                if n:
                    outs.append(self._incremental(chunk[:n], boxes[:n], share[:n]))
                if n < len(chunk):
                    outs.append(self._reference(chunk[n]).reshape(1, -1))
                    n += 1
                i += n
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
