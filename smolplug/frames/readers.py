"""Frame readers: the interface behind ``smolplug_open_frames``.

A reader yields :class:`FrameBatch` objects whose ``data`` lives in a ring of
preallocated batch buffers: memory stays bounded whatever the source size, and a
batch's data is valid until ``ring_size`` more batches have been read (copy it to
keep it longer).
"""

from __future__ import annotations

import abc
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import SpecError, Status, error_for
from ..jpeg.decode import DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS, decode_jpeg_batch
from ..request.selection import FrameSelection
from ..request.spec import FrameSpec

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
VIDEO_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".ts",
    ".mts",
    ".m2ts",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
    ".h264",
    ".264",
    ".hevc",
    ".h265",
    ".mjpeg",
    ".mjpg",
    ".y4m",
    ".3gp",
    ".ogv",
)


@dataclass(frozen=True)
class FrameRequest:
    """Which frames a host wants, and how each is delivered.

    :param spec: output geometry and encoding of every frame.
    :param batch_size: frames per batch (the last batch may be shorter).
    :param frames: a :class:`~smolplug.request.selection.FrameSelection` (every k-th, random sample,
        ranges, ...) or indices into the source's frame order (file order for image folders;
        for a video, frame i is the i-th frame a sequential decode outputs); None for all
        frames. Every requested position is delivered or reported, in request order (explicit
        indices keep their order and repeats; each frame is decoded once).
    :param on_error: ``"raise"`` the first failed item's error after its batch, or
        ``"skip"``: deliver per-item ``status``/``messages`` and go on.
    :param threads: native decoding threads (None: all usable cores).
    :param ring_size: preallocated batch buffers in the ring (>= 1).
    :param strict: libjpeg warnings are errors (see :func:`smolplug.decode_jpeg`).
    :param max_pixels: per-image decompression-bomb guard.
    :param max_memory: per-decode libjpeg working-memory budget (see :func:`smolplug.decode_jpeg`).
    :param scale_headroom: DCT-scaling headroom (see :func:`smolplug.decode_jpeg`).
    :param autorotate: apply a video's display matrix (phone videos' rotation), as OpenCV and
        FFmpeg do: output size and ``spec.roi`` are then in display orientation (JPEG EXIF
        orientation is ``spec.exif_orientation``).
    :param allocator: ``f(shape, dtype) -> C-contiguous ndarray`` for the ring's batch buffers
        (default ``np.empty``); e.g. page-locked memory an accelerator copies from
        asynchronously (:attr:`smolplug.execute.executors.Executor.host_allocator`).
    """

    spec: FrameSpec
    batch_size: int = 32
    frames: Sequence[int] | FrameSelection | None = None
    on_error: Literal["raise", "skip"] = "raise"
    threads: int | None = None
    ring_size: int = 2
    strict: bool = True
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_memory: int | None = DEFAULT_MAX_MEMORY
    scale_headroom: float = 1.0
    autorotate: bool = True
    allocator: Callable[[tuple[int, ...], np.dtype], np.ndarray] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.spec, FrameSpec):
            raise SpecError(f"spec must be a FrameSpec, got {type(self.spec).__name__}")
        for name in ("batch_size", "ring_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SpecError(f"{name} must be a positive integer, got {v!r}")
        if self.on_error not in ("raise", "skip"):
            raise SpecError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.frames is not None and not isinstance(self.frames, FrameSelection):
            try:
                frames = tuple(int(i) for i in self.frames)
            except (TypeError, ValueError):
                raise SpecError("frames must be a sequence of integer indices") from None
            object.__setattr__(self, "frames", frames)
        if not isinstance(self.autorotate, bool):
            raise SpecError(f"autorotate must be a bool, got {self.autorotate!r}")
        if self.allocator is not None and not callable(self.allocator):
            raise SpecError(f"allocator must be callable, got {type(self.allocator).__name__}")

    def allocate(self, n: int) -> np.ndarray:
        """One batch buffer for ``n`` frames, from ``allocator`` when one is given (checked)."""
        if self.allocator is None:
            return self.spec.allocate(n)
        shape, dtype = self.spec.batch_shape(n), self.spec.numpy_dtype
        self.spec.check_allocation(n)
        buf = self.allocator(shape, dtype)
        if (
            not isinstance(buf, np.ndarray)
            or buf.shape != shape
            or buf.dtype != dtype
            or not buf.flags.c_contiguous
            or not buf.flags.writeable
        ):
            got = f"{type(buf).__name__} {getattr(buf, 'shape', '')} {getattr(buf, 'dtype', '')}"
            raise SpecError(f"allocator must return a writable C-contiguous {dtype} array {shape}, got {got}")
        return buf


@dataclass
class FrameBatch:
    """Up to ``batch_size`` frames plus what happened to each."""

    data: np.ndarray  #: (n, C, H, W) or (n, H, W, C): a view into the reader's ring
    indices: np.ndarray  #: source frame index of each item
    status: np.ndarray  #: per-item :class:`~smolplug.Status` (int8)
    messages: list[str]  #: per-item reason ("" when OK)
    timestamps: np.ndarray | None = None  #: seconds, for timed sources (video)
    sources: list[str] = field(default_factory=list)  #: per-item origin (file path)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def ok(self) -> np.ndarray:
        return self.status <= Status.WARNING


@dataclass
class ReaderStats:
    frames_requested: int = 0
    frames_delivered: int = 0
    frames_failed: int = 0
    bytes_read: int = 0
    rows_decoded: int = 0  #: scanlines the decoder produced (partial decoding lowers it)
    frames_decoded: int = 0  #: video frames the codec decoded (targets and the frames they need)
    pixels_decoded: int = 0  #: luma pixels of those frames (low-res renditions lower it)


class FrameReader(abc.ABC):
    """Iterable of :class:`FrameBatch`; closes its resources on ``close()`` / ``with``."""

    request: FrameRequest
    stats: ReaderStats

    @abc.abstractmethod
    def __iter__(self) -> Iterator[FrameBatch]: ...

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of frames requested."""

    def close(self) -> None:  # noqa: B027 - optional override
        """Release files, threads and buffers."""

    @property
    def frames_decoded(self) -> int:
        return self.stats.frames_decoded

    @property
    def pixels_decoded(self) -> int:
        return self.stats.pixels_decoded

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_jpeg_files(directory: str | os.PathLike[str]) -> list[Path]:
    """JPEG files of a directory in natural order (frame_2 before frame_10)."""
    d = Path(directory)
    return sorted(
        (p for p in d.iterdir() if p.suffix.lower() in JPEG_SUFFIXES and p.is_file()), key=_natural_key
    )


def _read(path: Path) -> bytes | OSError:
    try:
        return path.read_bytes()
    except OSError as exc:
        return exc


class JpegFileReader(FrameReader):
    """Frames from JPEG files, decoded by the native batch decoder.

    Requested positions are delivered in request order; a file requested more than once is
    decoded once (its output is copied to its other positions); an index with no file is
    reported ``MISSING``. File reads for the next batch overlap with decoding of the current one.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], request: FrameRequest):
        self.paths = [Path(p) for p in paths]
        self.request = request
        n = len(self.paths)
        self.indices = FrameSelection.of(request.frames).positions(n)
        self.stats = ReaderStats(frames_requested=len(self.indices))
        size = min(request.batch_size, max(len(self.indices), 1))
        self._ring = [request.allocate(size) for _ in range(request.ring_size)]
        self._scratch: np.ndarray | None = None
        self._io: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="smolplug-read")

    def __len__(self) -> int:
        return len(self.indices)

    def _submit(self, todo: list[int]) -> Future[list[bytes | OSError]]:
        assert self._io is not None, "reader is closed"
        paths = [self.paths[i] for i in todo]
        return self._io.submit(lambda: [_read(p) for p in paths])

    def _plan(self) -> list[tuple[np.ndarray, list[int]]]:
        """Per batch: its positions, and the files first requested there (decoded there)."""
        bs, n, seen = self.request.batch_size, len(self.paths), set()
        plan = []
        for s in range(0, len(self.indices), bs):
            chunk = self.indices[s : s + bs]
            todo = [i for i in dict.fromkeys(chunk.tolist()) if 0 <= i < n and i not in seen]
            seen.update(todo)
            plan.append((chunk, todo))
        return plan

    def _decode(self, blobs: list[bytes | OSError], out: np.ndarray) -> tuple[np.ndarray, list[str]]:
        req = self.request
        items = [b if isinstance(b, bytes) else b"" for b in blobs]
        batch = decode_jpeg_batch(
            items,
            req.spec,
            out=out,
            threads=req.threads,
            on_error="skip",
            strict=req.strict,
            max_pixels=req.max_pixels,
            max_memory=req.max_memory,
            scale_headroom=req.scale_headroom,
        )
        self.stats.bytes_read += sum(len(b) for b in items)
        self.stats.rows_decoded += int(batch.rows_decoded.sum())
        return batch.status, batch.messages

    def __iter__(self) -> Iterator[FrameBatch]:
        req, n = self.request, len(self.paths)
        plan = self._plan()
        uses = Counter(i for i in self.indices.tolist() if 0 <= i < n)
        stash: dict[int, tuple[np.ndarray, int, str]] = {}
        pending = self._submit(plan[0][1]) if plan else None
        for k, (chunk, todo) in enumerate(plan):
            blobs = pending.result()  # type: ignore[union-attr]
            pending = self._submit(plan[k + 1][1]) if k + 1 < len(plan) else None
            out = self._ring[k % len(self._ring)][: len(chunk)]
            direct = todo == chunk.tolist()  # every position a new file: decode straight into place
            if direct:
                dst = out
            else:
                if self._scratch is None:
                    self._scratch = req.allocate(req.batch_size)
                dst = self._scratch[: len(todo)]
            status_d, messages_d = self._decode(blobs, dst) if todo else (np.zeros(0, np.int8), [])
            for j, b in enumerate(blobs):
                if isinstance(b, OSError):
                    status_d[j] = Status.IO_ERROR
                    messages_d[j] = f"cannot read {self.paths[todo[j]]}: {b.strerror or b}"
            done = {i: (dst[j], int(status_d[j]), messages_d[j]) for j, i in enumerate(todo)}
            status = np.zeros(len(chunk), np.int8)
            messages = [""] * len(chunk)
            for j, i in enumerate(chunk.tolist()):
                if not 0 <= i < n:
                    req.spec.fill_frame(out[j])
                    status[j], messages[j] = Status.MISSING, f"file index {i} does not exist ({n} file(s))"
                    continue
                frame, st, msg = done[i] if i in done else stash[i]
                if not direct:
                    out[j] = frame
                status[j], messages[j] = st, msg
            for j, i in enumerate(chunk.tolist()):
                if 0 <= i < n:
                    uses[i] -= 1
                    if uses[i] > 0 and i not in stash:
                        stash[i] = (out[j].copy(), int(status[j]), messages[j])
                    elif uses[i] == 0:
                        stash.pop(i, None)
            ok = int((status <= Status.WARNING).sum())
            self.stats.frames_delivered += ok
            self.stats.frames_failed += len(chunk) - ok
            sources = [str(self.paths[i]) if 0 <= i < n else "" for i in chunk.tolist()]
            fb = FrameBatch(out, chunk.copy(), status, messages, sources=sources)
            if req.on_error == "raise" and ok < len(chunk):
                j = int(np.flatnonzero(status > Status.WARNING)[0])
                more = len(chunk) - ok - 1
                tail = f" ({more} more item(s) failed)" if more else ""
                raise error_for(int(status[j]), f"item {j}: {messages[j]}{tail}", index=j)
            yield fb

    def close(self) -> None:
        if self._io is not None:
            self._io.shutdown(wait=True)
            self._io = None
