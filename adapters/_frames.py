"""Frame loading for adapters: a host's list of frame indices -> one array, through
``smolplug_open_frames`` (so plugins can replace it), with decode counters for the host's stats."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import open_frames
from ..errors import MissingFrameError, Status
from ..execute.executors import CallableExecutor
from ..execute.runner import PipelinedRunner, StageTimes, ring_size_for
from ..frames.readers import FrameRequest
from ..request.selection import FrameSelection
from ..request.spec import FrameSpec


def reader_options(options: dict[str, Any]) -> dict[str, Any]:
    """The adapter options :func:`load_frames` understands (``threads``, ``scale_headroom``)."""
    return {k: options[k] for k in ("threads", "scale_headroom", "batch_size") if k in options}


def _request(
    spec: FrameSpec,
    frames: np.ndarray,
    batch_size: int,
    threads: int | None,
    scale_headroom: float,
    **more: Any,
) -> FrameRequest:
    """Sorted distinct ``frames``, failures reported per frame (the caller names them)."""
    return FrameRequest(
        spec,
        batch_size=max(1, min(batch_size, len(frames))),
        frames=FrameSelection.indices(frames.tolist()),
        on_error="skip",
        threads=threads,
        scale_headroom=scale_headroom,
        **more,
    )


def _missing(source: Any, missing: list[int], failed: list[str]) -> MissingFrameError:
    return MissingFrameError(
        f"{source}: {len(missing)} requested frame(s) not delivered: "
        + "; ".join(failed or map(str, missing))
    )


@dataclass
class Loaded:
    data: np.ndarray  #: (N, ...) in the order of ``indices``
    indices: np.ndarray
    timestamps: np.ndarray  #: seconds
    frames_decoded: int
    pixels_decoded: int
    seconds: float
    reader: str


def load_frames(
    source: Any,
    indices: Sequence[int],
    spec: FrameSpec,
    *,
    batch_size: int = 64,
    threads: int | None = None,
    scale_headroom: float = 1.0,
    pm: Any = None,
) -> Loaded:
    """Frames ``indices`` (any order, repeats allowed) of ``source`` as one array.

    Raises :class:`~smolplug.errors.MissingFrameError` naming every frame that could not be
    delivered: the hosts adapted here have no per-frame status, so nothing is dropped silently.
    """
    t0 = time.perf_counter()
    want = np.asarray(indices, np.int64).reshape(-1)
    uniq, inverse = np.unique(want, return_inverse=True)
    out = spec.allocate(len(uniq))
    ts = np.zeros(len(uniq), np.float64)
    got = np.zeros(len(uniq), bool)
    failed: list[str] = []
    req = _request(spec, uniq, batch_size, threads, scale_headroom)
    with open_frames(source, req, pm=pm) as reader:
        for batch in reader:
            n = len(batch)
            pos = np.searchsorted(uniq, batch.indices)
            ok = batch.ok
            if n and ok.all() and pos[-1] - pos[0] == n - 1:  # the usual case: one contiguous run
                out[pos[0] : pos[0] + n] = batch.data[:n]
            else:
                out[pos[ok]] = batch.data[:n][ok]
                failed += [
                    f"{i}: {m}" for i, m, k in zip(batch.indices, batch.messages, ok, strict=True) if not k
                ]
            got[pos[ok]] = True
            if batch.timestamps is not None:
                ts[pos] = batch.timestamps[:n]
        stats = reader.stats
    if failed or not got.all():
        missing = uniq[~got].tolist()
        raise _missing(source, missing, failed)
    in_order = len(want) == len(uniq) and bool(np.all(want == uniq))
    return Loaded(
        out if in_order else out[inverse],
        want,
        ts if in_order else ts[inverse],
        stats.frames_decoded,
        stats.pixels_decoded,
        time.perf_counter() - t0,
        type(reader).__name__,
    )


@dataclass
class Scored:
    values: np.ndarray  #: one output row per frame, in the order of ``indices``
    indices: np.ndarray
    frames_decoded: int
    pixels_decoded: int
    seconds: float
    reader: str
    times: StageTimes


def score_frames(
    source: Any,
    indices: Sequence[int],
    spec: FrameSpec,
    fn: Any,
    *,
    batch_size: int = 64,
    threads: int | None = None,
    scale_headroom: float = 1.0,
    queue_size: int = 2,
    pm: Any = None,
) -> Scored:
    """``fn(batch) -> one output per frame`` over frames ``indices`` (ascending, distinct) of
    ``source``, decoding and ``fn`` overlapped by :class:`~smolplug.execute.runner.PipelinedRunner`.

    Raises :class:`~smolplug.errors.MissingFrameError` naming every frame that could not be
    delivered (the frames that were are scored first, so no work is lost silently).
    """
    t0 = time.perf_counter()
    want = np.asarray(indices, np.int64).reshape(-1)
    if len(want) and np.any(np.diff(want) <= 0):
        raise ValueError("score_frames needs ascending, distinct frame indices")
    req = _request(spec, want, batch_size, threads, scale_headroom, ring_size=ring_size_for(queue_size))
    parts: list[np.ndarray] = []
    got: list[np.ndarray] = []
    failed: list[str] = []
    with open_frames(source, req, pm=pm) as reader:
        runner = PipelinedRunner(reader, CallableExecutor(fn), queue_size=queue_size)
        for r in runner:
            ok = r.status <= Status.WARNING
            out = np.asarray(r.output)[: len(r.indices)]
            parts.append(out[ok])
            got.append(r.indices[ok])
            failed += [f"{i}: {m}" for i, m, k in zip(r.indices, r.messages, ok, strict=True) if not k]
        stats = reader.stats
    done = np.concatenate(got) if got else np.zeros(0, np.int64)
    if failed or len(done) != len(want):
        missing = np.setdiff1d(want, done).tolist()
        raise _missing(source, missing, failed)
    return Scored(
        np.concatenate(parts) if parts else np.zeros(0, np.float32),
        done,
        stats.frames_decoded,
        stats.pixels_decoded,
        time.perf_counter() - t0,
        type(reader).__name__,
        runner.times,
    )


def full_frames(source: Any, indices: Sequence[int], *, pm: Any = None) -> Loaded:
    """Frames ``indices`` (any order) at the source's full resolution as BGR uint8 (N, H, W, 3):
    what ``cv2.VideoCapture.read`` returns for them, reached by smolplug's sampled decoding (one
    pass over the sorted frames: GOP-aware seeks, frames no requested one depends on skipped)."""
    from ..video import load_index

    ix = load_index(source)
    spec = FrameSpec(ix.display_height, ix.display_width, colorspace="BGR", layout="NHWC", dtype="uint8")
    return load_frames(source, indices, spec, batch_size=16, scale_headroom=float("inf"), pm=pm)


def patch_reference_fetch(engine_cls: Any, patcher: Any) -> None:
    """Replace a reference engine's ``load_reference`` (OpenCV seek + read per frame) with
    :func:`full_frames`; the frames' decoding time is measured by the engine as before."""

    def load_reference(self: Any, indices: Sequence[int]) -> np.ndarray:
        return full_frames(self.video, indices).data

    patcher.setattr(engine_cls, "load_reference", load_reference)


_fetch_cost: dict[tuple[str, int], float] = {}


def fetch_seconds(source: Any, n_frames: int, batch: int = 16, seed: int = 0) -> float:
    """Seconds per frame of :func:`full_frames` on ``batch`` random frames of the first
    ``n_frames`` (what a reference call's prefetch costs here); measured once per source."""
    key = (str(source), int(n_frames))
    if key not in _fetch_cost:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n_frames, min(batch, n_frames), replace=False))
        t = time.perf_counter()
        full_frames(source, idx)
        _fetch_cost[key] = (time.perf_counter() - t) / max(len(idx), 1)
    return _fetch_cost[key]


def reference_fetch_seconds(engine: Any, options: dict[str, Any]) -> float:
    """What fetching one reference frame adds to a reference call of ``engine`` with the plugin
    on: 0 when the engine answers from labels without fetching or the fetch is not replaced."""
    if getattr(engine, "reference", "labels") == "labels" or not options.get("reference_fetch", True):
        return 0.0
    return fetch_seconds(engine.video, engine.n_frames)
