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
import os
import statistics
import time
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


def _detect_range(args: tuple[str, int, int]) -> list[np.ndarray]:
    path, start, stop = args
    cap = cv2.VideoCapture(path)
    out: list[np.ndarray] = []
    try:
        # skip to ``start`` by reading: POS_FRAMES seeking is not frame-exact for every codec
        for _ in range(start):
            if not cap.grab():
                return out
        for _ in range(start, stop):
            ok, frame = cap.read()
            if not ok:
                break
            out.append(detect(frame))
    finally:
        cap.release()
    return out


@dataclass
class Labels:
    """Reference-model detections for every frame of a video."""

    boxes: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.boxes)

    def counts(self) -> np.ndarray:
        return np.array([len(b) for b in self.boxes], np.int64)

    def in_region(self, region: tuple[float, float, float, float]) -> np.ndarray:
        """Per frame: does a detected person's box centre lie in ``region`` (x0, y0, x1, y1)?"""
        x0, y0, x1, y1 = region
        out = np.zeros(len(self.boxes), bool)
        for i, b in enumerate(self.boxes):
            if len(b):
                cx = (b[:, 0] + b[:, 2]) / 2
                cy = (b[:, 1] + b[:, 3]) / 2
                out[i] = bool(np.any((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)))
        return out


def label_video(
    path: str | os.PathLike[str],
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Labels:
    """HOG detections for every frame of ``path`` (computed once, then read from the cache);
    ``progress(done, total)`` is called as frame ranges finish."""
    path = str(path)
    cache_dir = cache_dir or default_cache_dir()
    cache = cache_dir / f"labels-{Path(path).name}-{fingerprint(path)}.npz"
    if cache.exists():
        with np.load(cache) as z:
            flat, splits = z["boxes"], z["splits"]
        return Labels(np.split(flat, splits[1:-1]))
    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    workers = workers or min(os.cpu_count() or 1, 8)
    step = max(16, -(-n // (workers * 4)))
    ranges = [(path, s, min(s + step, n)) for s in range(0, n, step)]
    boxes = []
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_detect_range, ranges):
            boxes += part
            if progress:
                progress(len(boxes), n)
    if len(boxes) != n:
        raise OSError(f"{path}: {len(boxes)} of {n} frames could be decoded for labelling")
    cache_dir.mkdir(parents=True, exist_ok=True)
    splits = np.cumsum([0] + [len(b) for b in boxes])
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, boxes=np.concatenate(boxes) if boxes else np.zeros((0, 5), np.float32), splits=splits)
    tmp.replace(cache)
    return Labels(boxes)
