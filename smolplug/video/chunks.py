"""A directory of numbered video chunks read as one video (the layout NoScope/BlazeIt datasets
use): global frame index = frames of the previous chunks + local index; timestamps continue
across chunks.

A chunk whose frames cannot all be decoded has them reported (``MISSING``/``CORRUPT`` with the
reason) and the rest delivered. A chunk that cannot be opened at all has no frame count: it
counts as zero frames, is listed in ``problems`` and reported with a :class:`DecodeWarning` —
frame numbers of the chunks after it are then those of the readable chunks.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DecodeWarning, SmolplugError
from ..frames.readers import VIDEO_SUFFIXES, FrameRequest, _natural_key
from ..request.selection import FrameSelection
from .batches import Item, PositionsReader
from .index import VideoIndex
from .reader import VideoReader
from .scan import load_index


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


class ChunkedVideoReader(PositionsReader):
    """Frames of numbered chunk files as one video, each chunk decoded by a VideoReader."""

    def __init__(self, directory: str | os.PathLike[str], request: FrameRequest, *, cache: Any = None):
        self.directory = Path(directory)
        self.problems: list[tuple[Path, str]] = []  #: chunks that could not be opened, and why
        self.chunks: list[Path] = []
        self.indexes: list[VideoIndex] = []
        for c in list_video_chunks(self.directory):
            try:
                self.indexes.append(load_index(c, cache))
                self.chunks.append(c)
            except (SmolplugError, OSError) as exc:
                self.problems.append((c, str(exc)))
                warnings.warn(
                    DecodeWarning(f"{c}: skipped, it cannot be read ({exc}); frames are numbered without it"),
                    stacklevel=2,
                )
        counts = np.asarray([ix.n_frames for ix in self.indexes], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._select(request, int(self.offsets[-1]), _continuous_timestamps(self.indexes))
        self.seeks = 0
        self._cache = cache

    def _decode(self, wanted: np.ndarray) -> Iterator[Item]:
        for k, (chunk, index) in enumerate(zip(self.chunks, self.indexes, strict=True)):
            lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
            local = wanted[(wanted >= lo) & (wanted < hi)] - lo
            if len(local) == 0:
                continue
            req = dataclasses.replace(self.request, frames=FrameSelection.indices(local.tolist()))
            sub = VideoReader(chunk, req, index=index, cache=self._cache)
            try:
                for item in sub._decode(sub.wanted):
                    item.index += lo
                    yield item
            finally:
                sub.close()
                self.stats.frames_decoded += sub.frames_decoded
                self.stats.pixels_decoded += sub.pixels_decoded
                self.seeks += sub.seeks

    def _absent(self, i: int) -> str:
        return f"frame {i} does not exist ({int(self.offsets[-1])} frames in {len(self.chunks)} chunks)"

    def _items(self) -> Iterator[tuple[int, Any, Any, str]]:
        """(index, av.VideoFrame or reason, native spec, source) per requested position, in request
        order (see :meth:`PositionsReader._outcomes`)."""
        for i, d in self._outcomes():
            if d is None:
                yield i, self._absent(i), None, ""
            else:
                yield i, d.frame if d.frame is not None else d.message, d.cspec, d.source
