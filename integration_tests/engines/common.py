"""Pieces the reference engines share: the OpenCV frame loader they had, small torch CNNs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class LoadedFrames:
    """Frames a loader produced for a query, and what producing them cost."""

    indices: np.ndarray  #: frame indices, in the order of the arrays' first axis
    arrays: list[np.ndarray]  #: one array per requested output (the engine says which)
    frames_decoded: int = 0
    pixels_decoded: int = 0
    seconds: float = 0.0
    loader: str = "opencv"
    details: dict = field(default_factory=dict)


class UnfitVideoError(ValueError):
    """A video an engine cannot run a query on, and why: unreadable, too short, or too few
    frames of the kind the query needs to train its model or check its accuracy targets."""


def video_frame_count(path: str | os.PathLike[str]) -> int:
    """Frames in ``path`` as OpenCV reports them; :class:`UnfitVideoError` when it cannot be
    opened or has none."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UnfitVideoError(f"{path}: not a video OpenCV can open")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if n <= 0:
        raise UnfitVideoError(f"{path}: no frames")
    return n


def check_labels(video: str | os.PathLike[str], n_frames: int, n_labels: int) -> None:
    if n_frames != n_labels:
        raise UnfitVideoError(f"{video}: {n_frames} frames but {n_labels} reference labels")


def read_every_frame(path: str | os.PathLike[str], wanted: Sequence[int], convert) -> LoadedFrames:
    """The original engines' loader: ``cv2.VideoCapture`` decodes every frame from the first to
    the last wanted one at full resolution; ``convert(frame_bgr)`` turns each wanted frame into
    a tuple of outputs. Missing frames raise (the engines have no per-frame status)."""
    t0 = time.perf_counter()
    wanted = np.asarray(sorted(set(int(i) for i in wanted)), np.int64)
    outs: list[list[np.ndarray]] = []
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"cannot open {path}")
    decoded = pixels = 0
    pos = 0
    try:
        for target in wanted:
            while pos <= target:
                ok, frame = cap.read()
                if not ok:
                    raise OSError(f"{path}: frame {pos} could not be decoded")
                decoded += 1
                pixels += frame.shape[0] * frame.shape[1]
                if pos == target:
                    res = convert(frame)
                    if not outs:
                        outs = [[] for _ in res]
                    for lst, r in zip(outs, res, strict=True):
                        lst.append(r)
                pos += 1
    finally:
        cap.release()
    arrays = [np.stack(o) for o in outs] if outs else []
    return LoadedFrames(wanted, arrays, decoded, pixels, time.perf_counter() - t0)


# -- the reference model -------------------------------------------------------------------------
#: how an engine answers a reference-model call: "run" fetches the frame and runs the detector on
#: it (the answer is the detector's); "charge" fetches the frame, answers from the cached labels
#: and charges the detector's measured seconds per call; "labels" answers from the cached labels
#: without fetching or charging anything (what the engines' own evaluations did; for tests of
#: other properties)
REFERENCE_MODES = ("run", "charge", "labels")


class SeekFrames(Sequence):
    """Frames ``indices`` of an open ``cv2.VideoCapture``, fetched lazily by OpenCV's random access:
    each access seeks (``CAP_PROP_POS_FRAMES``) and reads one full-resolution BGR frame."""

    def __init__(self, cap, path: str, indices: Sequence[int]):
        self.cap, self.path, self.indices = cap, path, [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j):  # type: ignore[override]
        f = self.indices[j]
        self.cap.set(cv2.CAP_PROP_POS_FRAMES, f)
        ok, frame = self.cap.read()
        if not ok:
            raise OSError(f"{self.path}: frame {f} could not be read")
        return frame


@dataclass
class ReferenceStats:
    """What an engine's reference-model calls cost (seconds) and how their answers compared
    with the cached labels (``checked``/``agreed``: calls whose frame has a label)."""

    calls: int = 0
    fetched: int = 0  #: frames fetched (a prefetched frame may go unused)
    fetch: float = 0.0
    detector: float = 0.0  #: measured ("run") or charged ("charge")
    checked: int = 0
    agreed: int = 0

    def since(self, before: ReferenceStats) -> ReferenceStats:
        return ReferenceStats(*(getattr(self, k) - getattr(before, k) for k in self.__dataclass_fields__))

    def copy(self) -> ReferenceStats:
        return ReferenceStats(**self.__dict__)


class ReferenceCalls:
    """The reference model as the engines call it ("oracle"): frames fetched at full resolution by
    random access (``load_reference``, which a plugin may replace), ``batch`` at a time in the
    order the engine asks for them, the detector run (or charged) once per call.

    Subclasses provide ``video`` (path), ``labels``, ``detect(frame) -> boxes``."""

    reference: str = "charge"
    reference_batch: int = 16
    reference_seconds: float | None = None  #: detector seconds per call when charged (None: measured)

    def _ref_init(self, reference: str, batch: int, seconds: float | None) -> None:
        if reference not in REFERENCE_MODES:
            raise ValueError(f"reference must be one of {REFERENCE_MODES}, got {reference!r}")
        self.reference, self.reference_batch, self.reference_seconds = reference, int(batch), seconds
        self.ref_stats = ReferenceStats()
        self._ref_cap = None

    def load_reference(self, indices: Sequence[int]) -> Sequence[np.ndarray]:
        """Frames ``indices`` (in that order) at full resolution, BGR: OpenCV seek + read, lazily
        (a frame not looked at is not read)."""
        if self._ref_cap is None:
            self._ref_cap = cv2.VideoCapture(str(self.video))
            if not self._ref_cap.isOpened():
                raise OSError(f"cannot open {self.video}")
        return SeekFrames(self._ref_cap, str(self.video), indices)

    def close_reference(self) -> None:
        if self._ref_cap is not None:
            self._ref_cap.release()
            self._ref_cap = None

    def _charge(self) -> float:
        if self.reference_seconds is None:
            from .reference import seconds_per_call

            self.reference_seconds = seconds_per_call(str(self.video))
        return self.reference_seconds

    def reference_calls(
        self, frames: Iterable[int], skip: Callable[[int], bool] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(frame, boxes) for each of ``frames`` not rejected by ``skip``, one reference call each,
        lazily: the next ``reference_batch`` candidates are fetched together (``skip`` is asked
        when a batch is formed and again before the call)."""
        from .reference import detect

        st = self.ref_stats
        it = iter(frames)
        while True:
            batch = []
            for f in it:
                if skip is None or not skip(int(f)):
                    batch.append(int(f))
                    if len(batch) == self.reference_batch:
                        break
            if not batch:
                return
            if self.reference == "labels":
                for f in batch:
                    if skip is None or not skip(f):
                        st.calls += 1
                        yield f, self._label(f)
                continue
            t = time.perf_counter()
            got = self.load_reference(batch)
            st.fetch += time.perf_counter() - t
            lazy = isinstance(got, SeekFrames)
            st.fetched += 0 if lazy else len(batch)
            for j, f in enumerate(batch):
                if skip is not None and skip(f):
                    continue
                t = time.perf_counter()
                frame = got[j]
                st.fetch += time.perf_counter() - t
                st.fetched += int(lazy)
                if self.reference == "run":
                    t = time.perf_counter()
                    boxes = detect(frame)
                    st.detector += time.perf_counter() - t
                    label = self.labels.boxes[f]
                    if label is not None:  # the cached label of the same frame
                        st.checked += 1
                        st.agreed += int(len(label) == len(boxes))
                else:
                    boxes = self._label(f)
                    st.detector += self._charge()
                st.calls += 1
                yield f, boxes

    def _label(self, f: int) -> np.ndarray:
        b = self.labels.boxes[f]
        if b is None:
            raise ValueError(f"{self.video}: frame {f} has no cached label; use reference='run'")
        return b


# -- models -------------------------------------------------------------------------------------
def make_cnn(in_size: int, outputs: int = 1, width: int = 16):
    """A NoScope-style specialized CNN: two conv blocks (``width``, 2x``width`` filters) and a
    small dense head."""
    import torch
    from torch import nn

    feat = ((in_size - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(3, width, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * feat * feat, 64),
        nn.ReLU(),
        nn.Linear(64, outputs),
        *([] if outputs != 1 else [nn.Flatten(0)]),
    ).to(memory_format=torch.contiguous_format)


def cnn_macs(in_size: int, width: int = 16) -> int:
    """Multiply-accumulates of one :func:`make_cnn` forward pass (NoScope costed models by it)."""
    c1 = in_size - 2
    p1 = c1 // 2
    c2 = p1 - 2
    feat = c2 // 2
    return c1 * c1 * width * 27 + c2 * c2 * 2 * width * 9 * width + 2 * width * feat * feat * 64 + 64


def train_cnn(
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: str,
    epochs: int = 30,
    seed: int = 0,
    lr: float = 2e-3,
    width: int = 16,
):
    """Train :func:`make_cnn` on NCHW float32 ``x`` with targets ``y`` (``loss``: "bce" or "mse").
    Seeded, single-threaded: the same inputs give the same model."""
    import torch
    from torch import nn

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = make_cnn(x.shape[-1], width=width)
        xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        yt = torch.from_numpy(np.asarray(y, np.float32))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        crit = nn.BCEWithLogitsLoss() if loss == "bce" else nn.MSELoss()
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(xt), generator=g)
            for s in range(0, len(xt), 32):
                b = perm[s : s + 32]
                xb = xt[b]
                if torch.rand((), generator=g) < 0.5:  # horizontal flips keep counts, not positions
                    xb = xb if loss == "bce" else xb.flip(-1)
                opt.zero_grad()
                crit(model(xb), yt[b]).backward()
                opt.step()
        model.eval()
        return model
    finally:
        torch.set_num_threads(threads)


def predict(model, x: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(x), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(x[s : s + batch], np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)
