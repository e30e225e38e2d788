"""A ``decord.VideoReader`` that decodes only the frames asked for.

decord's reader indexes the file at open and decodes on demand, but ``get_batch`` of every 30th
frame still decodes the frames between (it seeks to the keyframe and decodes forward, non-reference
frames included), and Ray Data's ``read_videos`` or EvaDB iterate it frame by frame. This reader
has decord's interface — ``len``, ``[i]`` / ``[a:b:s]`` (negative indices, ``IndexError`` past the
end), ``get_batch``, ``next``, ``seek``, ``seek_accurate``, ``skip_frames``, ``get_key_indices``,
``get_avg_fps``, ``get_frame_timestamp`` — and returns what decord returns: RGB ``uint8`` arrays,
(H, W, 3) per frame and (N, H, W, 3) per batch, as :class:`NDArray` (a numpy array with decord's
``asnumpy()``), resized by FFmpeg's swscale (bilinear) when ``width`` / ``height`` are given.
Frames are decoded on the CPU whatever ``ctx`` says (``asnumpy()`` is then a no-op). A frame
that cannot be decoded raises :class:`~smolplug.errors.MissingFrameError`, as decord raises.

Two differences a decord user can rely on:
- **Iterating is lazy.** ``for frame in reader`` gives each frame as a :class:`LazyFrame` that
  decodes when it is used (``asnumpy()``, ``numpy.asarray``, any array attribute): a consumer that
  keeps one frame in n (Ray Data's ``read_videos(fps=...)`` enumerates every frame and drops the
  others) decodes only those, by the same sampled plan as ``get_batch``.
- **File objects** (decord reads their bytes into memory) are copied, in chunks, into a temporary
  file that lives as long as the reader, so the index and seeks work on them too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import MissingFrameError
from .cursor import FrameCursor


def spool(fileobj: Any) -> str:
    """Copy a file object's remaining bytes into a temporary file; its path."""
    fd, path = tempfile.mkstemp(prefix="smolplug-decord-", suffix=".video")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(fileobj, out, 1 << 22)
    except BaseException:
        os.unlink(path)
        raise
    return path


class NDArray(np.ndarray):
    """A numpy array that also answers decord's ``asnumpy()``."""

    def asnumpy(self) -> np.ndarray:
        return self.view(np.ndarray)


def cpu(dev_id: int = 0) -> tuple[str, int]:
    return ("cpu", dev_id)


def gpu(dev_id: int = 0) -> tuple[str, int]:
    return ("gpu", dev_id)


class LazyFrame:
    """Frame ``index`` of a :class:`VideoReader`, decoded on first use (then kept)."""

    __slots__ = ("_reader", "index", "_array")

    def __init__(self, reader: VideoReader, index: int):
        self._reader = reader
        self.index = index
        self._array: NDArray | None = None

    def asnumpy(self) -> np.ndarray:
        return self._get().asnumpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self._get().asnumpy()
        return a if dtype is None else a.astype(dtype)

    @property
    def shape(self) -> tuple[int, int, int]:
        w, h = self._reader._out_size()
        return (h, w, 3)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def __getattr__(self, name: str) -> Any:  # the rest of the array's interface
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)

    def __repr__(self) -> str:
        state = "decoded" if self._array is not None else "not decoded yet"
        return f"<LazyFrame {self.index} of {self._reader._cursor.path.name}, {state}>"

    def _get(self) -> NDArray:
        if self._array is None:
            self._array = self._reader._decode(self.index)
        return self._array


def is_file_object(uri: Any) -> bool:
    return callable(getattr(uri, "read", None))


class VideoReader:
    """``decord.VideoReader(uri, ctx, width, height, num_threads, fault_tol)``; ``uri`` is a path
    or a readable file object."""

    def __init__(
        self,
        uri: str | os.PathLike[str] | Any,
        ctx: Any = None,
        width: int = -1,
        height: int = -1,
        num_threads: int = 0,
        fault_tol: int = -1,
        *,
        _spooled: bool = False,
    ):
        # a temporary copy this reader removes when closed (``_spooled``: made by the caller,
        # who keeps it if the reader cannot open it)
        self._spooled: str | None = None
        self._cursor: FrameCursor | None = None
        own = is_file_object(uri)
        if own:
            uri = spool(uri)
        try:
            self._cursor = FrameCursor(uri, cache=False if own or _spooled else None)
        except BaseException:
            if own:
                os.unlink(uri)
            raise
        if own or _spooled:
            self._spooled = str(uri)
        self._index = self._cursor.index  # decord knows its length at open
        self._stream = self._cursor.stream
        self._size = (int(width), int(height)) if width > 0 and height > 0 else None
        self._reformatter = VideoReformatter()
        self._pos = 0
        self._keys: list[int] | None = None

    # -- decord's interface ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self._index.n_frames

    def __getitem__(self, idx: int | slice) -> NDArray:
        if isinstance(idx, slice):
            return self.get_batch(range(*idx.indices(len(self))))
        i = self._check(idx)
        out = self._decode(i)
        self._pos = i + 1
        return out

    def __iter__(self) -> Iterator[LazyFrame]:
        """Every frame from the first, each decoded when used (see the module's docstring)."""
        for i in range(len(self)):
            self._pos = i + 1
            yield LazyFrame(self, i)

    def next(self) -> NDArray:
        if self._pos >= len(self):
            raise StopIteration
        return self[self._pos]

    def seek(self, pos: int) -> None:
        self._pos = self._check(pos)

    def seek_accurate(self, pos: int) -> None:
        self._pos = self._check(pos)

    def skip_frames(self, num: int = 1) -> None:
        self._pos = min(self._pos + int(num), len(self))

    def get_batch(self, indices: Iterable[int] | np.ndarray) -> NDArray:
        idx = np.asarray([self._check(int(i)) for i in np.asarray(indices).reshape(-1)], np.int64)
        w, h = self._out_size()
        out = np.empty((len(idx), h, w, 3), np.uint8)
        order = np.unique(idx)
        slot = {int(i): np.flatnonzero(idx == i) for i in order}
        for d in self._cursor.batch(order):
            if d.frame is None:
                raise MissingFrameError(f"{self._cursor.path}: frame {d.index}: {d.message}")
            out[slot[d.index]] = self._rgb(d.frame)
        if len(idx):
            self._pos = int(idx[-1]) + 1
        return out.view(NDArray)

    def get_key_indices(self) -> list[int]:
        """decord's answer: the positions of the keyframe packets in file (decode) order. With
        closed GOPs these are the keyframes' frame indices; with open GOPs (leading B-frames
        shown before their keyframe) they are not, in decord as here."""
        if self._keys is None:
            with av.open(str(self._cursor.path)) as c:
                s = c.streams.video[0]
                packets = (p for p in c.demux(s) if p.size)
                self._keys = [i for i, p in enumerate(packets) if p.is_keyframe]
        return list(self._keys)

    def get_avg_fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def get_frame_timestamp(self, idx: int | Iterable[int]) -> np.ndarray:
        """(start, end) seconds of each frame: its presentation time from the stream's start, and
        that plus one frame's duration at the average rate."""
        scalar = np.isscalar(idx)
        i = np.asarray([self._check(int(j)) for j in np.atleast_1d(np.asarray(idx))], np.int64)
        start = self._index.timestamps[i] - (self._stream.start_time or 0) * float(self._stream.time_base)
        fps = self.get_avg_fps()
        out = np.stack([start, start + (1.0 / fps if fps else 0.0)], axis=1).astype(np.float32)
        return out[0] if scalar else out

    # -- helpers ---------------------------------------------------------------------------------
    def _decode(self, i: int) -> NDArray:
        frame = self._cursor.frame(i)
        if frame is None:
            raise MissingFrameError(f"{self._cursor.path}: frame {i}: {self._cursor.message}")
        return self._rgb(frame).view(NDArray)

    def _check(self, i: int) -> int:
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"Index: {i} out of bound: {n}")
        return j

    def _out_size(self) -> tuple[int, int]:
        if self._size is not None:
            return self._size
        cc = self._stream.codec_context
        return cc.width, cc.height

    def _rgb(self, frame: Any) -> np.ndarray:
        if self._size is None:
            return self._reformatter.reformat(frame, format="rgb24").to_ndarray()
        w, h = self._size
        return self._reformatter.reformat(
            frame, format="rgb24", width=w, height=h, interpolation="BILINEAR"
        ).to_ndarray()

    @property
    def frames_decoded(self) -> int:
        return self._cursor.stats.frames_decoded

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._remove_spool()

    def _remove_spool(self) -> None:
        if self._spooled is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._spooled)
            self._spooled = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()
