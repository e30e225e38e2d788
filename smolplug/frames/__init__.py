"""Frame readers: one interface over JPEG files and videos.

Enters: a :class:`FrameRequest` (source paths, :class:`~smolplug.request.FrameSpec`, frame
selection, batch size, error policy), through the ``smolplug_open_frames`` hook.
Leaves: :class:`FrameBatch` es (tensor, source/frame ids, per-item status) from a
:class:`FrameReader`; the default plugin (:mod:`smolplug.frames.plugin`) picks the JPEG reader
(:mod:`smolplug.jpeg`) or the video reader (:mod:`smolplug.video`) by suffix. Batches go to an
executor (:mod:`smolplug.execute`).
"""

from .jpegfiles import JpegFileReader, list_jpeg_files
from .readers import (
    JPEG_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameBatch,
    FrameReader,
    FrameRequest,
    ReaderStats,
)

__all__ = [
    "JPEG_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FrameBatch",
    "FrameReader",
    "FrameRequest",
    "JpegFileReader",
    "ReaderStats",
    "list_jpeg_files",
]
