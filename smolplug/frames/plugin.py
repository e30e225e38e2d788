"""Default ``smolplug_open_frames``: JPEG files (one path, a list, or a directory) and video
files (any container/codec PyAV opens)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from ..plugins.hookspecs import hookimpl
from .jpegfiles import JpegFileReader, list_jpeg_files
from .readers import JPEG_SUFFIXES, VIDEO_SUFFIXES, FrameReader, FrameRequest


def _jpeg_paths(source: Any) -> list[Path] | None:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            files = list_jpeg_files(p)
            return files or None
        if p.suffix.lower() in JPEG_SUFFIXES:
            return [p]
        return None
    if (
        isinstance(source, (list, tuple))
        and source
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    ):
        paths = [Path(s) for s in source]
        if all(p.suffix.lower() in JPEG_SUFFIXES for p in paths):
            return paths
    return None


def _video_path(source: Any) -> Path | None:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            return p
    return None


@hookimpl(trylast=True)
def smolplug_open_frames(source: Any, request: FrameRequest) -> FrameReader | None:
    if isinstance(source, (str, os.PathLike)) and not Path(source).exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(source))
    paths = _jpeg_paths(source)
    if paths is not None:
        return JpegFileReader(paths, request)
    video = _video_path(source)
    if video is not None:
        from ..video.reader import VideoReader

        return VideoReader(video, request)
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        from ..video.chunks import ChunkedVideoReader, list_video_chunks

        if list_video_chunks(source):
            return ChunkedVideoReader(source, request)
    return None
