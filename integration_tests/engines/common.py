"""Pieces the reference engines share: the OpenCV frame loader they had, small torch CNNs."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
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
