"""Frames from JPEG files (one path, a list, a folder), decoded by the native batch decoder."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import Status, error_for
from ..jpeg.decode import decode_jpeg_batch
from ..request.selection import FrameSelection
from .readers import JPEG_SUFFIXES, FrameBatch, FrameReader, FrameRequest, ReaderStats, _natural_key


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
