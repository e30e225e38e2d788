"""Adapter for EvaDB (``pip install evadb``): its video table reader through smolplug.

EvaDB's storage engine reads video tables with ``DecordReader`` (decord): frame-id predicates
become ranges, ``SAMPLE n`` keeps every n-th frame, ``SAMPLE IFRAMES`` the keyframes, and every
returned frame is an RGB array at the source resolution. This adapter gives
``evadb.storage.video_storage_engine`` a subclass of that reader which computes the same frame
ids the same way and decodes exactly those frames with smolplug — one seek per GOP, stop after
the last wanted frame, keyframes only for ``SAMPLE IFRAMES``, non-reference frames skipped —
converting planes to RGB in native code. Ids, row numbers and ``seconds`` are EvaDB's; pixels
agree with decord's within conversion rounding. Audio reads stay with decord.

A frame that cannot be decoded raises :class:`smolplug.errors.MissingFrameError` (EvaDB's
reader has no per-row status; decord raises too).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from ..api import open_frames
from ..errors import MissingFrameError
from ..frames.readers import FrameRequest
from ..request.selection import FrameSelection
from ..request.spec import FrameSpec
from . import Adapter, Patcher

TARGET = "evadb.storage.video_storage_engine"


def frame_ids(
    ranges: list[tuple[int, int]],
    sampling_rate: int,
    iframes: np.ndarray | None,
) -> list[int]:
    """The frame ids EvaDB's DecordReader returns (its ``_read`` loop, without decoding)."""
    out: list[int] = []
    if iframes is not None:
        idx = 0
        for begin, end in ranges:
            while idx < len(iframes) and iframes[idx] < begin:
                idx += sampling_rate
            while idx < len(iframes) and iframes[idx] <= end:
                out.append(int(iframes[idx]))
                idx += sampling_rate
    elif sampling_rate == 1:
        for begin, end in ranges:
            out.extend(range(begin, end + 1))
    else:
        for begin, end in ranges:
            if begin % sampling_rate:
                begin += sampling_rate - begin % sampling_rate
            out.extend(range(begin, end + 1, sampling_rate))
    return out


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from evadb.catalog.catalog_type import VideoColumnName
    from evadb.catalog.sql_config import ROW_NUM_COLUMN
    from evadb.constants import IFRAMES
    from evadb.expression.expression_utils import extract_range_list_from_predicate

    from ..video import load_index

    base = module.DecordReader
    batch_size = int(options.get("batch_size", 16))
    threads = options.get("threads")

    class SmolplugVideoReader(base):  # type: ignore[misc, valid-type]
        """EvaDB's video reader with smolplug decoding (audio: decord, unchanged)."""

        frames_decoded = 0  #: totals over this reader's reads (for tests and stats)
        pixels_decoded = 0

        def initialize_reader(self) -> None:
            if self._read_audio:
                super().initialize_reader()
                return
            self._index = load_index(self.file_url)

        def _read(self) -> Iterator[dict]:
            if self._read_audio:
                yield from super()._read()
                return
            ix = self._index
            n = ix.n_frames
            ranges = (
                extract_range_list_from_predicate(self._predicate, 0, n - 1)
                if self._predicate
                else [(0, n - 1)]
            )
            iframes = ix.flagged_keyframes if self._sampling_type == IFRAMES else None
            ids = frame_ids(ranges, self._sampling_rate, iframes)
            if not ids:
                return
            # EvaDB merges its ranges (sorted, disjoint) and frame_ids walks them forward, so the
            # ids ascend: frames stream out of the reader in the order EvaDB returns them
            if any(b <= a for a, b in itertools.pairwise(ids)):
                raise RuntimeError(f"{self.file_url}: frame ids are not ascending ({ids[:8]}...)")
            spec = FrameSpec(ix.height, ix.width, layout="NHWC", dtype="uint8")
            req = FrameRequest(
                spec,
                batch_size=min(batch_size, len(ids)),
                frames=FrameSelection.indices(ids),
                on_error="skip",
                threads=threads,
                scale_headroom=float("inf"),  # full resolution: no rendition, no lowres
            )
            with open_frames(self.file_url, req) as reader:
                try:
                    for batch in reader:
                        for k in range(len(batch)):
                            if not batch.ok[k]:
                                raise MissingFrameError(f"{self.file_url}: {batch.messages[k]}")
                            yield self._row(int(batch.indices[k]), batch.data[k].copy(), batch.timestamps[k])
                finally:
                    self._count(reader)

        def _count(self, reader: Any) -> None:
            cls = type(self)
            cls.frames_decoded += reader.stats.frames_decoded
            cls.pixels_decoded += reader.stats.pixels_decoded

        @staticmethod
        def _row(frame_id: int, data: np.ndarray, seconds: float) -> dict:
            return {
                VideoColumnName.id.name: frame_id,
                ROW_NUM_COLUMN: frame_id,
                VideoColumnName.data.name: data,
                # decord's timestamps are float32: keep EvaDB's column type
                VideoColumnName.seconds.name: round(np.float32(seconds), 2),
            }

    SmolplugVideoReader.__qualname__ = SmolplugVideoReader.__name__ = "SmolplugVideoReader"
    patcher.setattr(module, "DecordReader", SmolplugVideoReader)


adapter = Adapter(
    "evadb", TARGET, _apply, "EvaDB: video tables read through smolplug (SELECT, SAMPLE, id predicates)"
)
enable, disable = adapter.enable, adapter.disable
