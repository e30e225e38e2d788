"""Requested positions -> batches: every position delivered in request order, each frame decoded
once.

A request is a list of frame indices in the order the host wants them (repeats and indices that
do not exist included). Batches cover consecutive positions. When the valid indices are
non-decreasing (every selection but explicit unsorted indices), one ascending decode stream serves
all batches, so decoding continues across batch boundaries without seeking again. Otherwise each
batch's frames are decoded ascending on their own. A frame wanted again by a later batch is kept
as its converted output (not as a decoded picture) until then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Status, error_for
from ..frames.readers import FrameBatch, FrameReader, FrameRequest, ReaderStats
from ..request.selection import FrameSelection
from .frames import convert


@dataclass
class Item:
    """A decoded (or reported) frame with what converting it needs."""

    index: int
    frame: Any  #: av.VideoFrame, or None when not delivered
    status: Status
    message: str
    cspec: Any = None  #: the native spec to convert it with
    orientation: int = 1
    source: str = ""


Decode = Callable[[np.ndarray], Iterator[Item]]  #: ascending unique indices -> one Item each


class _Batch:
    """One batch being filled: its positions, buffer and per-position outcome."""

    def __init__(self, win: np.ndarray, buf: np.ndarray, n_frames: int, req: FrameRequest, absent: Any):
        self.win, self.buf, self.req = win, buf, req
        self.status = np.zeros(len(win), np.int8)
        self.messages = [""] * len(win)
        self.sources = [""] * len(win)
        self.slots: dict[int, list[int]] = {}
        for j, i in enumerate(win.tolist()):
            if 0 <= i < n_frames:
                self.slots.setdefault(i, []).append(j)
            else:
                req.spec.fill_frame(buf[j])
                self.status[j], self.messages[j] = Status.MISSING, absent(i)

    def put(self, i: int, st: int, msg: str, source: str, out: np.ndarray | None = None) -> np.ndarray:
        """Frame ``i`` is in its first slot (or in ``out``): copy it to its other slots."""
        js = self.slots[i]
        if out is not None:
            self.buf[js[0]] = out
        for j in js[1:]:
            self.buf[j] = self.buf[js[0]]
        for j in js:
            self.status[j], self.messages[j], self.sources[j] = st, msg, source
        return self.buf[js[0]]

    def deliver(self, item: Item) -> tuple[np.ndarray, int, str, str]:
        """Convert ``item`` into its slots (or pad them); returns what a later batch may reuse."""
        out = self.buf[self.slots[item.index][0]]
        st, msg = int(item.status), item.message
        if item.frame is not None and st <= Status.WARNING:
            res = convert(item.frame, item.cspec, out, item.orientation)
            if res["status"] > Status.WARNING or (res["status"] == Status.WARNING and st == Status.OK):
                st, msg = int(res["status"]), res["message"]
        else:
            self.req.spec.fill_frame(out)
        return self.put(item.index, st, msg, item.source), st, msg, item.source


def assemble(
    positions: np.ndarray,
    n_frames: int,
    decode: Decode,
    req: FrameRequest,
    ring: list[np.ndarray],
    timestamps: np.ndarray,
    stats: ReaderStats,
    absent: Callable[[int], str],
) -> Iterator[FrameBatch]:
    """Batches of ``positions`` (request order); ``absent(i)`` says why index ``i`` does not exist."""
    valid = (positions >= 0) & (positions < n_frames)
    kept = positions[valid]
    uses = Counter(kept.tolist())
    stash: dict[int, tuple[np.ndarray, int, str, str]] = {}  # converted outputs wanted again later
    early: dict[int, Item] = {}  # decoded before their batch (ascending stream)
    stream = decode(np.unique(kept)) if bool(np.all(np.diff(kept) >= 0)) else None
    bs = req.batch_size
    for k, start in enumerate(range(0, len(positions), bs)):
        win = positions[start : start + bs]
        b = _Batch(win, ring[k % len(ring)][: len(win)], n_frames, req, absent)

        def keep(i: int, done: tuple[np.ndarray, int, str, str], b: _Batch = b) -> None:
            uses[i] -= len(b.slots[i])
            if uses[i] > 0:
                stash[i] = (done[0].copy(), *done[1:])
            else:
                stash.pop(i, None)

        need = set(b.slots)
        for i in [i for i in need if i in stash]:
            out, st, msg, source = stash[i]
            keep(i, (b.put(i, st, msg, source, out), st, msg, source))
            need.discard(i)
        for i in [i for i in need if i in early]:
            keep(i, b.deliver(early.pop(i)))
            need.discard(i)
        src = stream if stream is not None else decode(np.asarray(sorted(need), np.int64))
        while need:
            item = next(src, None)
            if item is None:  # a decoder accounts for every frame; never drop one silently
                for i in need:
                    keep(
                        i, b.deliver(Item(i, None, Status.MISSING, "no outcome was produced for this frame"))
                    )
                break
            if item.index in need:
                keep(item.index, b.deliver(item))
                need.discard(item.index)
            else:
                early[item.index] = item
        times = np.asarray([timestamps[i] if 0 <= i < n_frames else np.nan for i in win.tolist()], np.float64)
        fb = FrameBatch(b.buf, win.copy(), b.status, b.messages, timestamps=times, sources=b.sources)
        ok = int((b.status <= Status.WARNING).sum())
        stats.frames_delivered += ok
        stats.frames_failed += len(win) - ok
        if req.on_error == "raise" and ok < len(win):
            j = int(np.flatnonzero(b.status > Status.WARNING)[0])
            raise error_for(int(b.status[j]), f"frame {int(win[j])}: {b.messages[j]}", index=int(win[j]))
        yield fb


class PositionsReader(FrameReader):
    """A reader over a source of ``n_frames`` frames: the request's positions, delivered by
    :func:`assemble` from what ``_decode`` produces (subclasses give ``_decode`` and ``_absent``)."""

    def _select(self, request: FrameRequest, n_frames: int, timestamps: np.ndarray) -> None:
        self.request = request
        self.n_frames = n_frames
        self.timestamps = timestamps
        self.positions = FrameSelection.of(request.frames).positions(n_frames, timestamps)
        ok = (self.positions >= 0) & (self.positions < n_frames)
        self.wanted = np.unique(self.positions[ok])
        self.invalid = np.unique(self.positions[~ok])
        self.stats = ReaderStats(frames_requested=len(self.positions))
        self._ring: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.positions)

    def _decode(self, wanted: np.ndarray) -> Iterator[Item]:
        raise NotImplementedError

    def _absent(self, i: int) -> str:
        raise NotImplementedError

    def _outcomes(self) -> Iterator[tuple[int, Item | None]]:
        """(index, its Item or None when the index does not exist) per requested position, in
        request order: a debugging view (it keeps every decoded picture until the end)."""
        got = {d.index: d for d in self._decode(self.wanted)}
        for i in self.positions.tolist():
            yield i, got.get(i)

    def __iter__(self) -> Iterator[FrameBatch]:
        if not self._ring:  # allocated on first use: a reader only asked for frames needs none
            size = min(self.request.batch_size, max(len(self.positions), 1))
            self._ring = [self.request.allocate(size) for _ in range(self.request.ring_size)]
        yield from assemble(
            self.positions,
            self.n_frames,
            self._decode,
            self.request,
            self._ring,
            self.timestamps,
            self.stats,
            self._absent,
        )
