"""Frame readers: the interface behind ``smolplug_open_frames``.

A reader yields :class:`FrameBatch` objects whose ``data`` lives in a ring of
preallocated batch buffers: memory stays bounded whatever the source size, and a
batch's data is valid until ``ring_size`` more batches have been read (copy it to
keep it longer).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import SpecError, Status
from ..jpeg.decode import DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS
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
