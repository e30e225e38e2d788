"""JPEG files as a Ray Datasource: runs of files, each run decoded by the native batch decoder
(:class:`~smolplug.frames.JpegFileReader`) in one read task; one row per requested position."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import Status
from ..request.selection import FrameSelection
from .datasource import Datasource, ReadOptions, _padding, _rows
from .pieces import Piece, image_pieces


def read_image_piece(piece: Piece, paths: Sequence[str], opts: ReadOptions) -> Iterator[Any]:
    """The blocks of one run of JPEG files (native batch decoder; one block per batch)."""
    from ..frames.jpegfiles import JpegFileReader

    n_files = len(paths)
    valid = (piece.frames >= 0) & (piece.frames < n_files)
    used = np.unique(piece.frames[valid])
    local = {int(f): j for j, f in enumerate(used.tolist())}
    frames = [local.get(int(f), -1) for f in piece.frames.tolist()]
    if not valid.all():  # indices with no file: reported here, the rest read below
        bad = np.flatnonzero(~valid)
        yield _rows(
            opts,
            "image",
            [""] * len(bad),
            piece.frames[bad],
            piece.positions[bad],
            _padding(opts, len(bad)),
            np.full(len(bad), int(Status.MISSING), np.int8),
            [f"file index {int(i)} does not exist ({n_files} file(s))" for i in piece.frames[bad]],
            None,
        )
    keep = np.flatnonzero(valid)
    if not len(keep):
        return
    with JpegFileReader(
        [paths[i] for i in used.tolist()], opts.request([frames[j] for j in keep.tolist()])
    ) as reader:
        done = 0
        for b in reader:
            k = len(b)
            sel = keep[done : done + k]
            yield _rows(
                opts,
                "image",
                [paths[int(used[i])] for i in b.indices.tolist()],
                piece.frames[sel],
                piece.positions[sel],
                b.data[:k].copy(),
                b.status,
                b.messages,
                None,
            )
            done += k


class ImagesDatasource(Datasource):
    """Requested JPEG files in runs decoded by the native batch decoder."""

    def __init__(self, paths: Sequence[str], selection: FrameSelection, opts: ReadOptions, min_files: int):
        if Datasource is not object:
            super().__init__()
        self.paths = list(paths)
        self.positions = selection.positions(len(self.paths))
        self.opts = opts
        self.min_files = min_files

    def get_name(self) -> str:
        return "SmolplugImages"

    def estimate_inmemory_data_size(self) -> int | None:
        return len(self.positions) * self.opts.spec.frame_bytes

    def pieces(self, parallelism: int) -> list[Piece]:
        per = max(math.ceil(len(self.positions) / max(parallelism, 1)), self.min_files)
        return image_pieces(self.paths, self.positions, per)

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[Any]:
        from ray.data.block import BlockMetadata
        from ray.data.datasource import ReadTask

        tasks = []
        for piece in self.pieces(parallelism):
            if not len(piece):
                continue
            files = sorted({self.paths[i] for i in piece.frames.tolist() if 0 <= i < len(self.paths)})
            meta = BlockMetadata(
                num_rows=len(piece),
                size_bytes=len(piece) * self.opts.spec.frame_bytes,
                input_files=files,
                exec_stats=None,
            )
            tasks.append(
                ReadTask(
                    lambda piece=piece, paths=self.paths, opts=self.opts: read_image_piece(
                        piece, paths, opts
                    ),
                    meta,
                    per_task_row_limit=per_task_row_limit,
                )
            )
        return tasks
