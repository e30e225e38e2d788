"""What a two-model pipeline gives out: per-frame outcomes and per-stage accounting."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import Status


@dataclass
class FrameOutcome:
    """One frame through both models."""

    index: int  #: the frame's index in its video (frame i of a sequential decode)
    status: Status
    message: str
    boxes: np.ndarray  #: (N, 5): x, y, w, h in source pixels (clipped to the frame), score
    classified: np.ndarray  #: (N,) bool: the boxes the second model ran on (the others: too small)
    outputs: np.ndarray | None  #: the second model's output per classified box, in box order
    latency: float  #: seconds from the frame leaving the source to its outcome being complete

    @property
    def top1(self) -> np.ndarray:
        """The argmax class of every classified box."""
        if self.outputs is None or len(self.outputs) == 0:
            return np.zeros(0, np.int64)
        return np.asarray(self.outputs).reshape(len(self.outputs), -1).argmax(axis=1)


@dataclass
class PipelineStats:
    """Where the time went. Stage seconds are summed over their threads (several detector
    workers may add up to more than the wall time)."""

    frames: int = 0
    boxes: int = 0
    crops: int = 0
    wall: float = 0.0
    decode: float = 0.0  #: source: reading + decoding + converting frames (and copying them out)
    detect: float = 0.0  #: detector calls
    crop: float = 0.0  #: crop + resize + normalise of every box
    broker_wait: float = 0.0  #: summed over crops: from entering the broker to their batch starting
    classify: float = 0.0  #: second model, per batch (host-to-device copies included, if any)
    h2d: float = 0.0  #: of which host-to-device copies (GPU executors that report them)
    source_blocked: float = 0.0  #: source waiting because the pipeline is full (backpressure)
    batch_sizes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)  #: queue sizes / RSS over time

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall else 0.0

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1e3) if self.latencies else 0.0

    @property
    def mean_batch(self) -> float:
        return float(np.mean(self.batch_sizes)) if self.batch_sizes else 0.0

    def per_frame_ms(self) -> dict[str, float]:
        """Stage milliseconds per frame (broker wait: per crop)."""
        n = max(self.frames, 1)
        out = {
            "decode": 1e3 * self.decode / n,
            "detect": 1e3 * self.detect / n,
            "crop + preprocess": 1e3 * self.crop / n,
            "second model": 1e3 * self.classify / n,
        }
        if self.h2d:
            out["host-to-device"] = 1e3 * self.h2d / n
        out["broker wait (per crop)"] = 1e3 * self.broker_wait / max(self.crops, 1)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "boxes": self.boxes,
            "crops": self.crops,
            "wall_s": self.wall,
            "fps": self.fps,
            "p50_ms": self.latency_ms(50),
            "p95_ms": self.latency_ms(95),
            "mean_batch": self.mean_batch,
            "stage_s": {
                "decode": self.decode,
                "detect": self.detect,
                "crop": self.crop,
                "broker_wait": self.broker_wait,
                "classify": self.classify,
                "h2d": self.h2d,
                "source_blocked": self.source_blocked,
            },
            "samples": self.samples,
        }


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def join_outcomes(
    events: queue.Queue, st: PipelineStats, release: Callable[[], None]
) -> Iterator[FrameOutcome]:
    """Outcomes in source order, each once its boxes and all their outputs are in (``events``:
    ``("frame", ...)`` from the detector workers or the source, ``("out", ...)`` from the broker,
    ``("end", frames)`` from the source, ``("error", exception)`` from any stage, raised here);
    ``release()`` after each."""
    frames: dict[int, dict[str, Any]] = {}
    outputs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    nxt, end = 0, None
    while end is None or nxt < end:
        kind, *rest = events.get()
        if kind == "error":
            raise rest[0]
        if kind == "end":
            end = rest[0]
        elif kind == "frame":
            seq, index, status, message, boxes, keep, t_src = rest
            frames[seq] = {
                "index": index,
                "status": status,
                "message": message,
                "boxes": np.zeros((0, 5), np.float32) if boxes is None else boxes,
                "keep": np.zeros(0, bool) if keep is None else keep,
                "t": t_src,
            }
        else:
            seq, ids, out = rest
            outputs.setdefault(seq, []).append((ids, out))
        while nxt in frames:
            f = frames[nxt]
            need = int(f["keep"].sum())
            got = outputs.get(nxt, [])
            if sum(len(i) for i, _ in got) < need:
                break
            res = None
            if need:
                order = np.concatenate([i for i, _ in got])
                res = np.concatenate([o for _, o in got])[np.argsort(order, kind="stable")]
            now = time.perf_counter()
            del frames[nxt]
            outputs.pop(nxt, None)
            nxt += 1
            release()
            st.frames += 1
            st.boxes += len(f["boxes"])
            st.latencies.append(now - f["t"])
            yield FrameOutcome(
                f["index"], f["status"], f["message"], f["boxes"], f["keep"], res, now - f["t"]
            )


def plot_stages(stats: PipelineStats, path: Any, title: str = "two-model pipeline") -> Any:
    """A bar chart of :meth:`PipelineStats.per_frame_ms` with throughput and latency (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = stats.per_frame_ms()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = list(per)[::-1]
    ax.barh(names, [per[k] for k in names], color="#4c72b0")
    ax.set_xlabel("ms per frame (broker wait: per crop)")
    ax.set_title(
        f"{title}: {stats.fps:.2f} frames/s, latency p50 {stats.latency_ms(50):.0f} ms, "
        f"p95 {stats.latency_ms(95):.0f} ms, mean batch {stats.mean_batch:.1f}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
