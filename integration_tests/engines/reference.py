"""The reference model (the "oracle"): OpenCV's HOG pedestrian detector.

It sees every frame at one fixed input size (``REF_SIZE``, vtest.avi's native 768x576), as a
production detector would, so its labels do not depend on the resolution the video was encoded
at. Labels for a whole video are computed once (in parallel worker processes) and cached on disk
keyed by the file's fingerprint; the engines' queries look them up instead of re-running HOG,
and count every lookup as a reference-model call.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REF_SIZE = (768, 576)  # (width, height) the detector runs at
HOG_PARAMS = {"winStride": (8, 8), "padding": (8, 8), "scale": 1.1}
LABELS_VERSION = 1


def default_cache_dir() -> Path:
    env = os.environ.get("SMOLPLUG_IT_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".it-cache"


def fingerprint(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    st = p.stat()
    h = hashlib.sha1(f"{p.name}:{st.st_size}".encode())
    with open(p, "rb") as f:
        h.update(f.read(1 << 16))
        f.seek(max(st.st_size - (1 << 16), 0))
        h.update(f.read())
    h.update(json.dumps([LABELS_VERSION, REF_SIZE, HOG_PARAMS], sort_keys=True).encode())
    return h.hexdigest()[:16]


_hog: cv2.HOGDescriptor | None = None


def detect(frame_bgr: np.ndarray) -> np.ndarray:
    """People boxes in ``frame_bgr`` as an (N, 5) array: x0, y0, x1, y1 in [0, 1] and score."""
    global _hog
    if _hog is None:
        cv2.setNumThreads(1)
        _hog = cv2.HOGDescriptor()
        _hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    img = frame_bgr
    if (img.shape[1], img.shape[0]) != REF_SIZE:
        img = cv2.resize(img, REF_SIZE, interpolation=cv2.INTER_AREA)
    rects, weights = _hog.detectMultiScale(img, **HOG_PARAMS)
    out = np.zeros((len(rects), 5), np.float32)
    if len(rects):
        r = np.asarray(rects, np.float32)
        out[:, 0] = r[:, 0] / REF_SIZE[0]
        out[:, 1] = r[:, 1] / REF_SIZE[1]
        out[:, 2] = (r[:, 0] + r[:, 2]) / REF_SIZE[0]
        out[:, 3] = (r[:, 1] + r[:, 3]) / REF_SIZE[1]
        out[:, 4] = np.asarray(weights, np.float32).reshape(-1)
    return out


@functools.cache
def seconds_per_call(path: str | os.PathLike[str], frames: int = 12, repeats: int = 3) -> float:
    """What one reference-model call costs on this machine: the median time of :func:`detect`
    (one thread, as the labelling workers run it) over ``frames`` frames spread across the first
    ~10 s of ``path``, each ``repeats`` times, after one warm-up call. Measured once per process
    and path."""
    cap = cv2.VideoCapture(str(path))
    picked: list[np.ndarray] = []
    try:
        for i in range(frames * 8):
            ok, frame = cap.read()
            if not ok:
                break
            if i % 8 == 0:
                picked.append(cv2.resize(frame, REF_SIZE, interpolation=cv2.INTER_AREA))
    finally:
        cap.release()
    if not picked:
        raise OSError(f"{path}: no frame could be decoded to time the reference model on")
    threads = cv2.getNumThreads()
    try:
        detect(picked[0])  # builds the detector (it pins OpenCV to one thread, as in the workers)
        cv2.setNumThreads(1)
        times = []
        for _ in range(repeats):
            for f in picked:
                t = time.perf_counter()
                detect(f)
                times.append(time.perf_counter() - t)
    finally:
        cv2.setNumThreads(threads)  # the host's own OpenCV work keeps its threads
    return statistics.median(times)


def _detect_many(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [detect(f) for f in frames]


def _sequential_frames(path: str, keep: np.ndarray):
    """Every frame of ``path`` in decode order (None for those ``keep`` leaves out), at the
    detector's input size (the resize :func:`detect` would do, done here so that workers receive
    1/3 of the bytes of 1080p)."""
    cap = cv2.VideoCapture(path)
    try:
        for k in keep:
            ok, frame = cap.read()
            if not ok:
                return
            if not k:
                yield None
                continue
            if (frame.shape[1], frame.shape[0]) != REF_SIZE:
                frame = cv2.resize(frame, REF_SIZE, interpolation=cv2.INTER_AREA)
            yield frame
    finally:
        cap.release()


def boxes_in_region(b: np.ndarray, region: tuple[float, float, float, float]) -> bool:
    """Does a box centre of ``b`` lie in ``region`` (x0, y0, x1, y1, fractions of the frame)?"""
    if not len(b):
        return False
    x0, y0, x1, y1 = region
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    return bool(np.any((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)))


@dataclass
class Labels:
    """Reference-model detections per frame of a video; None where a frame was not labelled (a
    long video labelled by a subsample rule, :func:`label_video`)."""

    boxes: list[np.ndarray | None]

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def labelled(self) -> np.ndarray:
        return np.array([b is not None for b in self.boxes], bool)

    def counts(self) -> np.ndarray:
        """People per frame (-1 where a frame has no label)."""
        return np.array([-1 if b is None else len(b) for b in self.boxes], np.int64)

    def in_region(self, region: tuple[float, float, float, float]) -> np.ndarray:
        """Per frame: does a detected person's box centre lie in ``region`` (x0, y0, x1, y1)?
        (False where a frame has no label.)"""
        return np.array([b is not None and boxes_in_region(b, region) for b in self.boxes], bool)


def label_rule(n: int, span: int | None, every: int | None) -> np.ndarray:
    """Which of ``n`` frames a subsample rule labels: all when both are None, else the first
    ``span`` frames and every ``every``-th frame (i % every == 0) after them."""
    keep = np.ones(n, bool)
    if span is not None or every is not None:
        idx = np.arange(n)
        keep = idx < (span or 0)
        if every:
            keep |= idx % every == 0
    return keep


def label_video(
    path: str | os.PathLike[str],
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    span: int | None = None,
    every: int | None = None,
) -> Labels:
    """HOG detections for every frame of ``path``, or for the frames :func:`label_rule` keeps
    with ``span``/``every`` (computed once, then read from the cache); ``progress(done, total)``
    is called as chunks of frames finish."""
    path = str(path)
    cache_dir = cache_dir or default_cache_dir()
    rule = "" if span is None and every is None else f"-span{span}-every{every}"
    cache = cache_dir / f"labels-{Path(path).name}-{fingerprint(path)}{rule}.npz"
    if cache.exists():
        with np.load(cache) as z:
            flat, splits = z["boxes"], z["splits"]
            keep = z["keep"] if "keep" in z else np.ones(len(splits) - 1, bool)
        parts = iter(np.split(flat, splits[1:-1]))
        return Labels([next(parts) if k else None for k in keep])
    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    keep = label_rule(n, span, every)
    workers = workers or min(os.cpu_count() or 1, 8)
    # one sequential decode here (frame i is the i-th frame read), the detector on ``workers``
    # processes, a bounded number of chunks in flight
    boxes: list[np.ndarray] = []
    pending: deque = deque()
    # spawned, not forked: a fork of a process whose OpenCV thread pool has run can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        chunk: list[np.ndarray] = []
        read = 0

        def drain(in_flight: int) -> None:
            while len(pending) > in_flight:
                boxes.extend(pending.popleft().result())
                if progress:
                    progress(len(boxes), int(keep.sum()))

        for frame in _sequential_frames(path, keep):
            read += 1
            if frame is None:
                continue
            chunk.append(frame)
            if len(chunk) == 16:
                pending.append(pool.submit(_detect_many, chunk))
                chunk = []
                drain(4 * workers)
        if chunk:
            pending.append(pool.submit(_detect_many, chunk))
        drain(0)
    if len(boxes) != int(keep.sum()) or read != n:
        raise OSError(f"{path}: {read} of {n} frames could be decoded for labelling")
    cache_dir.mkdir(parents=True, exist_ok=True)
    splits = np.cumsum([0] + [len(b) for b in boxes])
    tmp = cache.with_suffix(".tmp.npz")
    flat = np.concatenate(boxes) if boxes else np.zeros((0, 5), np.float32)
    np.savez(tmp, boxes=flat, splits=splits, keep=keep)
    tmp.replace(cache)
    parts = iter(boxes)
    return Labels([next(parts) if k else None for k in keep])
