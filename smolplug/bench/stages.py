"""``smolplug profile``: where the time goes, per stage, with the plugin off and on.

Plugin off is the usual Python input pipeline, one frame at a time (as a torch ``DataLoader``
worker runs it): read the file, decode at full resolution (Pillow for JPEG, PyAV + swscale for
video), resize and centre-crop (Pillow), then convert, normalise and lay out in numpy. Plugin on
is smolplug's reader (partial/low-resolution decoding with fused preprocessing) feeding the
model through the pipelined runner. Both run the same model, if one is given, on the same frames.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..frames.readers import VIDEO_SUFFIXES, FrameRequest
from ..request.spec import FrameSpec

OFF_STAGES = ("read", "decode", "resize", "normalize", "infer")
ON_STAGES = ("decode+preprocess", "infer", "executor idle", "GPU copy", "GPU compute")


#: the order the two sides are timed in by default (warm-up makes the order irrelevant)
SIDES = ("off", "on")


@dataclass
class Breakdown:
    label: str
    frames: int
    wall: float
    stages: dict[str, float] = field(default_factory=dict)  #: seconds per stage

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall else 0.0

    def ms_per_frame(self) -> dict[str, float]:
        return {k: 1e3 * v / max(self.frames, 1) for k, v in self.stages.items()}


@dataclass
class Comparison:
    """Both sides, timed warm, and the one-off warm-up each needed (seconds, reported apart)."""

    off: Breakdown
    on: Breakdown
    warmup: dict[str, float] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Frames/s with the plugin on over frames/s with it off."""
        return self.on.fps / self.off.fps if self.off.fps else 0.0


def frames_available(source: Path, n: int) -> int:
    """``n`` frames, or as many as a video has when it is shorter (JPEG folders are cycled)."""
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        from ..video import load_index

        return min(n, load_index(source).n_frames)
    return n


def warm_executor(executor: Any, spec: FrameSpec, batch_size: int) -> float:
    """Run ``executor`` once on a batch shaped like the real ones (normalised-image-like values)
    and return how long that took: the one-off set-up either side would otherwise pay."""
    if executor is None:
        return 0.0
    from ..plan.calibrate import dnn_input

    batch = dnn_input(spec.batch_shape(batch_size))
    if spec.dtype != "float32":
        batch = batch.astype(spec.numpy_dtype)
    t0 = time.perf_counter()
    executor.run(batch)
    return time.perf_counter() - t0


def compare(
    source: Path,
    spec: FrameSpec,
    n: int,
    executor: Any,
    batch_size: int,
    threads: int | None,
    order: Sequence[str] = SIDES,
) -> Comparison:
    """Profile both sides on the same ``n`` frames (fewer when a video is shorter), warm:
    the executor's set-up and one batch of each side run first, untimed in the breakdowns."""
    if sorted(order) != sorted(SIDES):
        raise ValueError(f"order must name each of {SIDES} once, got {tuple(order)}")
    n = frames_available(source, n)
    runs = {
        "off": lambda frames: profile_off(source, spec, frames, executor, batch_size),
        "on": lambda frames: profile_on(source, spec, frames, executor, batch_size, threads),
    }
    warmup = {"executor set-up": warm_executor(executor, spec, batch_size)}
    first = max(1, min(batch_size, n))
    for side in order:
        warmup[f"plugin {side}: first batch"] = runs[side](first).wall
    timed = {side: runs[side](n) for side in order}
    return Comparison(timed["off"], timed["on"], warmup)


def _normalize(rgb: np.ndarray, spec: FrameSpec) -> np.ndarray:
    x = rgb.astype(np.float32) * spec.value_scale
    if spec.mean is not None:
        x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return x.transpose(2, 0, 1) if spec.layout == "NCHW" else x


def _resize_crop(img: Any, spec: FrameSpec) -> Any:
    """torchvision Resize + CenterCrop, with the JPEG benchmark's Pillow peer's geometry."""
    from PIL import Image

    from .jpeg_peers import _crop_offsets, _short_side_dims

    nw, nh = _short_side_dims(*img.size, spec.shorter_side or min(spec.height, spec.width))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = _crop_offsets(nw, nh, spec.width, spec.height)
    return img.crop((left, top, left + spec.width, top + spec.height))


def profile_off(source: Path, spec: FrameSpec, n: int, executor: Any, batch_size: int) -> Breakdown:
    """The per-frame Python pipeline, timed stage by stage."""
    from PIL import Image

    t = dict.fromkeys(OFF_STAGES, 0.0)
    batch: list[np.ndarray] = []
    start = time.perf_counter()

    def flush() -> None:
        if batch and executor is not None:
            t0 = time.perf_counter()
            executor.run(np.stack(batch))
            t["infer"] += time.perf_counter() - t0
        batch.clear()

    def frames() -> Any:
        if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
            import av

            with av.open(str(source)) as c:
                s = c.streams.video[0]
                s.thread_type = "AUTO"
                it = c.decode(s)
                for _ in range(n):
                    t0 = time.perf_counter()
                    try:
                        f = next(it)
                    except StopIteration:
                        return
                    img = f.to_image()
                    t["decode"] += time.perf_counter() - t0
                    yield img
        else:
            files = sorted(source.glob("*.jpg")) if source.is_dir() else [source]
            for i in range(n):
                t0 = time.perf_counter()
                data = files[i % len(files)].read_bytes()
                t1 = time.perf_counter()
                img = Image.open(io.BytesIO(data)).convert("RGB")
                t["read"] += t1 - t0
                t["decode"] += time.perf_counter() - t1
                yield img

    count = 0
    for img in frames():
        t0 = time.perf_counter()
        img = _resize_crop(img, spec)
        t1 = time.perf_counter()
        batch.append(_normalize(np.asarray(img), spec))
        t["normalize"] += time.perf_counter() - t1
        t["resize"] += t1 - t0
        count += 1
        if len(batch) == batch_size:
            flush()
    flush()
    return Breakdown("plugin off", count, time.perf_counter() - start, t)


def profile_on(
    source: Path, spec: FrameSpec, n: int, executor: Any, batch_size: int, threads: int | None
) -> Breakdown:
    """smolplug's reader through the pipelined runner (a ring in the executor's host memory,
    its in-flight batches overlapped; GPU copy/compute seconds from a CUDA executor's events)."""
    from ..execute.executors import CallableExecutor
    from ..execute.runner import PipelinedRunner

    if source.is_dir():
        from . import cycled_jpegs

        src: Any = cycled_jpegs(source, n)
        frames = None
    else:
        src, frames = str(source), None
        if source.suffix.lower() in VIDEO_SUFFIXES:
            frames = range(frames_available(source, n))
    req = FrameRequest(spec, batch_size=batch_size, frames=frames, threads=threads, ring_size=4)
    ex = executor if executor is not None else CallableExecutor(lambda x: None)
    dev0 = dict(getattr(ex, "device_seconds", {}))
    start = time.perf_counter()
    with PipelinedRunner.open(src, req, ex, queue_size=2) as runner:
        count = sum(len(r.indices) for r in runner)
    wall = time.perf_counter() - start
    tm = runner.times
    stages = {"decode+preprocess": tm.decode, "infer": tm.infer if executor is not None else 0.0}
    stages["executor idle"] = tm.queue_empty
    dev = getattr(ex, "device_seconds", None)
    if dev:  # measured on the GPU: they overlap the host-side stages above
        stages["GPU copy"] = dev["h2d"] - dev0.get("h2d", 0.0)
        stages["GPU compute"] = dev["compute"] - dev0.get("compute", 0.0)
    return Breakdown("plugin on", count, wall, stages)


def write_png(results: Sequence[Breakdown], path: Path, title: str) -> Path:
    """A stacked bar per run: milliseconds per frame by stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    names = list(dict.fromkeys(k for r in results for k in r.stages))
    bottoms = np.zeros(len(results))
    for name in names:
        vals = np.array([r.ms_per_frame().get(name, 0.0) for r in results])
        ax.bar([r.label for r in results], vals, bottom=bottoms, label=name)
        bottoms += vals
    for i, r in enumerate(results):
        ax.text(
            i,
            bottoms[i],
            f"{1e3 * r.wall / max(r.frames, 1):.2f} ms/frame wall\n{r.fps:.0f} frames/s",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("ms per frame (stage time; stages overlap when plugin on)")
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, bottoms.max() * 1.25 if bottoms.max() > 0 else 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
