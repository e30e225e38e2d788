"""Ray Data datasources: smolplug's readers inside Ray's read tasks.

:class:`VideoFramesDatasource` — the keyframe indexes are built (or loaded from the cache) in
Ray tasks across the cluster when the dataset is created and shipped to the read tasks through
the object store; ``get_read_tasks`` cuts every file's requested frames into (file, GOP range)
pieces of similar decoding cost (:mod:`smolplug.ray.pieces`), and each read task runs a
:class:`~smolplug.video.VideoReader` over its piece's frames only, at the smallest covering
rendition. :class:`~smolplug.ray.images.ImagesDatasource`: runs of JPEG files.

Every requested position becomes exactly one row: delivered (``status`` ``"OK"``/``"WARNING"``)
or with the reason it is missing (``"MISSING"``, ``"CORRUPT"``, ...: the tensor then holds the
spec's padding value). A file that cannot be opened gives one row per requested position — or
one row with ``frame_index`` -1 when the selection needs the frame count to name its frames.
Read tasks are deterministic, so a task Ray re-executes after a worker died yields the same
rows: none is lost or duplicated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Status
from ..frames.readers import FrameRequest
from ..request.selection import FrameSelection
from ..request.spec import FrameSpec
from .files import VideoFile
from .pieces import Piece, failed_piece, video_pieces

try:  # Ray is optional: without it this module imports and read_frames says what to install
    from ray.data.datasource import Datasource
except ImportError:  # pragma: no cover - exercised where Ray is absent
    Datasource = object  # type: ignore[assignment,misc]

#: a read task decodes at least this many 1080p-frame equivalents (a task's overhead, Ray's and
#: opening the file, is ~10-30 ms; one 1080p H.264 frame costs ~10 ms on one core)
MIN_TASK_COST = 24.0
#: JPEG files per read task, at least
MIN_TASK_FILES = 64


@dataclass
class ReadOptions:
    """What every read task needs besides its piece (pickled with each task)."""

    spec: FrameSpec
    batch_size: int = 32
    strict: bool = True
    scale_headroom: float = 1.0
    autorotate: bool = True
    threads: int = 1
    cache: str | None = None
    one_core: bool = True  #: each read task decodes on one core of its node (smolplug.ray.cores)

    def request(self, frames: Sequence[int]) -> FrameRequest:
        return FrameRequest(
            self.spec,
            batch_size=self.batch_size,
            frames=FrameSelection.indices(frames),
            on_error="skip",
            threads=self.threads,
            ring_size=1,
            strict=self.strict,
            scale_headroom=self.scale_headroom,
            autorotate=self.autorotate,
        )


def _block(columns: dict[str, Any]) -> Any:
    from ray.data.block import BlockAccessor

    return BlockAccessor.batch_to_block(columns)


def _rows(
    opts: ReadOptions,
    column: str,
    path: Sequence[str],
    index: np.ndarray,
    positions: np.ndarray,
    data: np.ndarray,
    status: np.ndarray,
    messages: Sequence[str],
    timestamps: np.ndarray | None,
) -> Any:
    cols: dict[str, Any] = {
        column: data,
        "path": np.asarray(path, dtype=object),
        "frame_index" if timestamps is not None else "index": np.asarray(index, np.int64),
        "position": np.asarray(positions, np.int64),
        "status": np.asarray([Status(int(s)).name for s in status], dtype=object),
        "message": np.asarray(list(messages), dtype=object),
    }
    if timestamps is not None:
        cols["frame_timestamp"] = np.asarray(timestamps, np.float64)
    return _block(cols)


def _padding(opts: ReadOptions, n: int) -> np.ndarray:
    out = opts.spec.allocate(n)
    for i in range(n):
        opts.spec.fill_frame(out[i])
    return out


def _writable(index: Any) -> Any:
    """The index with its arrays copied out of the object store (read-only there): a reader
    drops a seek point it finds inexact from its index."""
    import dataclasses

    copies = {
        f.name: np.array(v)
        for f in dataclasses.fields(index)
        if isinstance(v := getattr(index, f.name), np.ndarray) and not v.flags.writeable
    }
    return dataclasses.replace(index, **copies) if copies else index


def read_video_piece(piece: Piece, index: Any, opts: ReadOptions) -> Iterator[Any]:
    """The blocks of one piece: a VideoReader over the piece's frames (one block per batch)."""
    if hasattr(index, "binary"):  # an ObjectRef: fetched from the object store
        import ray

        index = _writable(ray.get(index))
    n = len(piece)
    if piece.error or index is None:
        nan = np.full(n, np.nan)
        yield _rows(
            opts,
            "frame",
            [piece.path] * n,
            piece.frames,
            piece.positions,
            _padding(opts, n),
            np.full(n, piece.status or int(Status.CORRUPT), np.int8),
            [piece.error] * n,
            nan,
        )
        return
    from ..video.reader import VideoReader
    from .cores import one_core

    cache: Any = opts.cache if opts.cache is not None else None
    with (
        one_core(opts.one_core),
        VideoReader(piece.path, opts.request(piece.frames.tolist()), index=index, cache=cache) as reader,
    ):
        done = 0
        for b in reader:
            k = len(b)
            yield _rows(
                opts,
                "frame",
                [piece.path] * k,
                b.indices,
                piece.positions[done : done + k],
                b.data[:k].copy(),
                b.status,
                b.messages,
                b.timestamps,
            )
            done += k


class VideoFramesDatasource(Datasource):
    """Requested frames of many videos as (file, GOP range) read tasks (see the module doc)."""

    def __init__(
        self, files: Sequence[VideoFile], selection: FrameSelection, opts: ReadOptions, min_task_cost: float
    ):
        if Datasource is not object:
            super().__init__()
        self.files = list(files)
        self.selection = selection
        self.opts = opts
        self.min_task_cost = min_task_cost
        self._frames = [self._requested(f) for f in self.files]

    def _requested(self, f: VideoFile) -> np.ndarray | None:
        if f.index is None:
            return np.asarray(self.selection.args, np.int64) if self.selection.kind == "indices" else None
        return self.selection.positions(f.index.n_frames, f.index.timestamps)

    def get_name(self) -> str:
        return "SmolplugFrames"

    def rows(self) -> int:
        return sum(1 if fr is None else len(fr) for fr in self._frames)

    def estimate_inmemory_data_size(self) -> int | None:
        return self.rows() * self.opts.spec.frame_bytes

    def pieces(self, parallelism: int) -> list[tuple[Piece, Any]]:
        """(piece, index reference) for every read task, ``parallelism`` wanted."""
        total = 0.0
        for f, fr in zip(self.files, self._frames, strict=True):
            if f.index is not None:
                whole = video_pieces(f.path, f.index, fr, target_cost=math.inf, pixels=f.pixels)
                total += sum(p.cost for p in whole)
        target = max(total / max(parallelism, 1), self.min_task_cost)
        out: list[tuple[Piece, Any]] = []
        for f, fr in zip(self.files, self._frames, strict=True):
            if f.index is None:
                out.append((failed_piece(f.path, fr, f.status, f.error), None))
            else:
                ref = f.ref if f.ref is not None else f.index
                for p in video_pieces(f.path, f.index, fr, target_cost=target, pixels=f.pixels):
                    out.append((p, ref))
        return out

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[Any]:
        from ray.data.block import BlockMetadata
        from ray.data.datasource import ReadTask

        tasks = []
        for piece, ref in self.pieces(parallelism):
            meta = BlockMetadata(
                num_rows=len(piece),
                size_bytes=len(piece) * self.opts.spec.frame_bytes,
                input_files=[piece.path],
                exec_stats=None,
            )
            tasks.append(
                ReadTask(
                    lambda piece=piece, ref=ref, opts=self.opts: read_video_piece(piece, ref, opts),
                    meta,
                    per_task_row_limit=per_task_row_limit,
                )
            )
        return tasks
