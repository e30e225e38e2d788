"""Frame *i* of a video on demand, decoding as little as the access pattern allows.

Drop-in readers (:mod:`smolplug.compat`) are asked for one frame at a time. Reading straight
through decodes straight through (a plain sequential decode: no index, no seek). A jump loads
the video's index (built once, cached) and decodes with :class:`~smolplug.video.decode.VideoDecoder`:
a seek to the keyframe that starts the frame's GOP, non-reference frames skipped when they are
not wanted. The cursor predicts that the host keeps its stride (``read()`` then ``grab()`` x
(stride - 1) asks for frames i, i + s, i + 2s, ...) and hands the decoder that whole plan, so
frames in one GOP share one seek; when the host departs from it the plan is restarted from the
frame asked for.

Frame *i* is the i-th frame of a sequential decode, in both paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..errors import Status
from ..frames.readers import ReaderStats
from ..jpeg.decode import default_threads
from ..video.container import open_video, orientation_of
from ..video.decode import Decoded, VideoDecoder
from ..video.index import VideoIndex
from ..video.scan import load_index

#: decoding through this many unwanted frames is cheaper than loading the index and seeking
SEQUENTIAL_GAP = 2
#: frames kept that came out of the decoder ahead of the one asked for (decoder reordering)
AHEAD_LIMIT = 64


class FrameCursor:
    """``frame(i)`` -> the ``av.VideoFrame`` of frame *i*, or None with :attr:`status` /
    :attr:`message` saying why (past the end, damaged beyond use)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        index: VideoIndex | None = None,
        cache: Path | str | None | bool = None,
        strict: bool = False,
    ):
        self.path = Path(path)
        self.cache = cache
        self.strict = strict
        self.stats = ReaderStats()
        self._index = index
        self._container = open_video(self.path)  # typed errors for missing / unreadable files
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._seq: Iterator[Any] | None = None
        self._seq_next = 0  #: index of the frame the sequential decode yields next
        self._decoder: VideoDecoder | None = None
        self._gen: Iterator[Decoded] | None = None
        self._plan: set[int] = set()
        self._stride = 1
        self._ahead: dict[int, Any] = {}
        self._last: int | None = None
        self._orientation: int | None = None if index is None else index.orientation
        self.status = Status.OK
        self.message = ""

    # -- what the container says (no decoding) ---------------------------------------------------
    @property
    def stream(self) -> Any:
        return self._stream

    @property
    def index(self) -> VideoIndex:
        if self._index is None:
            self._index = load_index(self.path, self.cache)
        return self._index

    @property
    def indexed(self) -> bool:
        return self._index is not None

    @property
    def orientation(self) -> int:
        """EXIF-numbered display orientation: from frame 0's display matrix before anything was
        decoded (frame 0 is kept for the read that follows), else from the index."""
        if self._orientation is None:
            if self._index is None and self._seq_next == 0:
                last = self._last
                first = self._sequential(0)
                self._last = last
                if first is not None:
                    self._ahead[0] = first
                    self._orientation = orientation_of(first)
                    return self._orientation
            self._orientation = self.index.orientation
        return self._orientation

    # -- frames --------------------------------------------------------------------------------
    def frame(self, i: int) -> Any:
        self.status, self.message = Status.OK, ""
        i = int(i)
        if i < 0:
            return self._missing(f"frame {i} does not exist")
        if i in self._ahead:
            self._last = i
            return self._ahead.pop(i)
        if self._decoder is None and i >= self._seq_next and i - self._seq_next <= SEQUENTIAL_GAP:
            return self._sequential(i)
        return self._indexed(i)

    def _sequential(self, i: int) -> Any:
        if self._seq is None:
            self._seq = iter(self._container.decode(self._stream))
        while True:
            try:
                f = next(self._seq)
            except StopIteration:
                self._seq_next = max(self._seq_next, i + 1)
                return self._missing(f"frame {i} does not exist (the video ends before it)")
            except av.error.FFmpegError:  # damage: the index-based decoder accounts for it
                self._drop_sequential()
                return self._indexed(i)
            n = self._seq_next
            self._seq_next += 1
            if n == 0 and self._orientation is None:
                self._orientation = orientation_of(f)
            self.stats.frames_decoded += 1
            self.stats.pixels_decoded += f.width * f.height
            if n == i:
                self._last = i
                return f

    def _drop_sequential(self) -> None:
        self._seq = None
        self._seq_next = 1 << 62  # never again: jumps and restarts go through the index

    def _indexed(self, i: int) -> Any:
        if i >= self.index.n_frames:
            return self._missing(self._past_end(i))
        self._ensure_decoder()
        # the host's stride: the gap since the last frame asked for (before any, the frame's own
        # position + 1: a host that grabs n frames before its first retrieve)
        stride = i + 1 if self._last is None else i - self._last if i > self._last else 1
        if self._gen is None or i not in self._plan or (stride != self._stride and stride > SEQUENTIAL_GAP):
            self._restart(i, stride)
        assert self._gen is not None
        for d in self._gen:
            self._plan.discard(d.index)
            if d.index == i:
                self._last = i
                if d.frame is None:
                    return self._missing(d.message, d.status)
                if d.status != Status.OK:
                    self.status, self.message = d.status, d.message
                return d.frame
            if d.index > i and d.frame is not None and len(self._ahead) < AHEAD_LIMIT:
                self._ahead[d.index] = d.frame
        self._gen = None
        return self._missing(f"frame {i} was not produced by the decoder")

    def _ensure_decoder(self) -> VideoDecoder:
        if self._decoder is None:
            self._drop_sequential()
            self._decoder = VideoDecoder(
                self.path,
                self.index,
                self.stats,
                strict=self.strict,
                cache=self.cache,
                workers=default_threads(),
            )
        return self._decoder

    def _restart(self, i: int, stride: int) -> None:
        """A new plan from frame ``i`` on, at the stride the host has been keeping."""
        self._drop_plan()
        wanted = np.arange(i, self.index.n_frames, max(stride, 1), dtype=np.int64)
        self._plan, self._stride = set(wanted.tolist()), max(stride, 1)
        self._gen = self._ensure_decoder().frames(wanted)

    def _drop_plan(self) -> None:
        """Stop the current plan (its decoding run) and forget frames kept from it."""
        if self._gen is not None:
            self._gen.close()  # type: ignore[attr-defined]
        self._gen, self._plan = None, set()
        self._ahead.clear()

    def _past_end(self, i: int) -> str:
        return f"frame {i} does not exist (the video has {self.index.n_frames} frames)"

    def _missing(self, message: str, status: Status = Status.MISSING) -> None:
        self.status, self.message = status, message
        return None

    def batch(self, wanted: np.ndarray) -> Iterator[Decoded]:
        """Every frame of ``wanted`` (ascending, unique) as one plan: one seek per GOP, in whatever
        order the decoder gives them. The cursor's own plan is dropped (its next ``frame()`` starts
        a new one)."""
        wanted = np.asarray(wanted, np.int64)
        inside = (wanted >= 0) & (wanted < self.index.n_frames)
        for i in wanted[~inside]:
            yield Decoded(int(i), None, Status.MISSING, self._past_end(int(i)))
        decoder = self._ensure_decoder()
        self._drop_plan()
        yield from decoder.frames(wanted[inside])

    @property
    def seeks(self) -> int:
        return self._decoder.seeks if self._decoder is not None else 0

    def close(self) -> None:
        self._drop_plan()
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._seq = None
        if self._container is not None:
            self._container.close()
            self._container = None
