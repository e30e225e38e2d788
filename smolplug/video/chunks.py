"""A directory of numbered video chunks read as one video (the layout NoScope/BlazeIt datasets
use): global frame index = frames of the previous chunks + local index; timestamps continue
across chunks."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..readers import VIDEO_SUFFIXES, FrameBatch, FrameReader, FrameRequest, ReaderStats, _natural_key
from ..selection import FrameSelection
from .index import VideoIndex, load_index
from .reader import VideoReader, batch_items


def list_video_chunks(directory: str | os.PathLike[str]) -> list[Path]:
    """Video files of a directory in natural order (chunk_2 before chunk_10)."""
    d = Path(directory)
    return sorted(
        (p for p in d.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES), key=_natural_key
    )


def _continuous_timestamps(indexes: list[VideoIndex]) -> np.ndarray:
    parts, t0 = [], 0.0
    for ix in indexes:
        ts = ix.timestamps
        if len(ts) == 0:
            continue
        step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
        parts.append(ts - ts[0] + t0)
        t0 += float(ts[-1] - ts[0]) + step
    return np.concatenate(parts) if parts else np.empty(0)


class ChunkedVideoReader(FrameReader):
    """Frames of numbered chunk files as one video, each chunk planned and decoded by a VideoReader."""

    def __init__(self, directory: str | os.PathLike[str], request: FrameRequest, *, cache: Any = None):
        self.directory = Path(directory)
        self.request = request
        self.chunks = list_video_chunks(self.directory)
        self.indexes = [load_index(c, cache) for c in self.chunks]
        counts = np.asarray([ix.n_frames for ix in self.indexes], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.timestamps = _continuous_timestamps(self.indexes)
        sel = request.frames
        if sel is None:
            sel = FrameSelection.all()
        elif not isinstance(sel, FrameSelection):
            sel = FrameSelection.indices(sel)
        self.wanted, self.invalid = sel.resolve(int(self.offsets[-1]), self.timestamps)
        self.stats = ReaderStats(frames_requested=len(self.wanted) + len(self.invalid))
        self.seeks = 0
        size = min(request.batch_size, max(len(self), 1))
        self._ring = [request.allocate(size) for _ in range(request.ring_size)]
        self._cache = cache

    def __len__(self) -> int:
        return len(self.wanted) + len(self.invalid)

    def _items(self) -> Iterator[tuple[int, Any, Any, str]]:
        for k, (chunk, index) in enumerate(zip(self.chunks, self.indexes, strict=True)):
            lo, hi = self.offsets[k], self.offsets[k + 1]
            local = self.wanted[(self.wanted >= lo) & (self.wanted < hi)] - lo
            if len(local) == 0:
                continue
            req = dataclasses.replace(self.request, frames=FrameSelection.indices(local.tolist()))
            with VideoReader(chunk, req, index=index, cache=self._cache) as sub:
                for i, item in sub._items():
                    yield int(i + lo), item, sub._cspec, str(chunk)
                self.stats.frames_decoded += sub.frames_decoded
                self.stats.pixels_decoded += sub.pixels_decoded
                self.seeks += sub.seeks
        total = int(self.offsets[-1])
        for i in self.invalid:
            yield (
                int(i),
                f"frame {int(i)} does not exist ({total} frames in {len(self.chunks)} chunks)",
                None,
                "",
            )

    def __iter__(self) -> Iterator[FrameBatch]:
        yield from batch_items(self._items(), self.request, self._ring, self.timestamps, self.stats)
