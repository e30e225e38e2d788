"""Opening video files with PyAV, with smolplug's typed errors instead of ``av.error.*``.

Every failure to open names the path and the reason: a missing path is a ``FileNotFoundError``,
unreadable data a :class:`~smolplug.errors.DecodeError` subclass (``ValueError``-compatible), so a
host's ``except ValueError`` / ``except OSError`` keeps working.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    CorruptDataError,
    DecodeError,
    EmptyInputError,
    ReadError,
    TruncatedError,
    UnsupportedFormatError,
)


def check_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or the OSError a plain ``open()`` would raise (missing, a folder)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(p))
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a video file", str(p))
    return p


def av_error(path: str | os.PathLike[str], exc: Exception, what: str = "cannot read") -> Exception:
    """The smolplug error for a PyAV/FFmpeg exception raised while reading ``path``."""
    import av

    reason = getattr(exc, "strerror", None) or str(exc)
    msg = f"{path}: {what}: {reason}"
    if isinstance(exc, (av.error.FileNotFoundError, av.error.IsADirectoryError)):
        return FileNotFoundError(errno.ENOENT, reason, str(path))
    if isinstance(exc, (av.error.PermissionError, av.error.OSError)):
        return ReadError(msg)
    if isinstance(exc, av.error.EOFError):
        return TruncatedError(f"{path}: {what}: the file ends early (truncated?)")
    if isinstance(
        exc, (av.error.DecoderNotFoundError, av.error.DemuxerNotFoundError, av.error.PatchWelcomeError)
    ):
        return UnsupportedFormatError(msg)
    if isinstance(exc, av.error.InvalidDataError):
        return CorruptDataError(f"{path}: not a readable video ({reason})")
    return DecodeError(msg)


def open_video(path: str | os.PathLike[str]) -> Any:
    """``av.open(path)`` for reading its first video stream; smolplug's errors on failure."""
    import av

    p = check_path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ReadError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise EmptyInputError(f"{p}: empty file (0 bytes)")
    try:
        container = av.open(str(p), metadata_errors="replace")  # tags need not be UTF-8
    except av.error.FFmpegError as exc:
        raise av_error(p, exc, "cannot open") from exc
    except (UnicodeError, ValueError, IndexError) as exc:  # PyAV reading a damaged header
        raise CorruptDataError(f"{p}: not a readable video ({type(exc).__name__}: {exc})") from exc
    if not container.streams.video:
        container.close()
        raise UnsupportedFormatError(f"{p}: no video stream ({container.format.name} container)")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise UnsupportedFormatError(f"{p}: no decoder for its video stream")
    return container


def decoded_frames(container: Any, stream: Any) -> Any:
    """``container.decode(stream)``, except that PyAV's end-of-stream step failing (an
    IndexError when damaged data made the demuxer add streams) still flushes the decoder."""
    import av

    try:
        for packet in container.demux(stream):
            yield from packet.decode()  # the last (empty) packet flushes the decoder
        return
    except IndexError:
        pass
    with contextlib.suppress(av.error.EOFError):
        yield from stream.codec_context.decode(None)


def display_matrix(frame: Any) -> np.ndarray | None:
    """The frame's display matrix (FFmpeg's 9 int32s), or None when it has none."""
    from av.sidedata.sidedata import Type

    for sd in frame.side_data:
        if sd.type == Type.DISPLAYMATRIX:
            return np.frombuffer(bytes(sd), np.int32)
    return None


def orientation_of(frame: Any) -> int:
    """The EXIF orientation (1..8) equivalent to a frame's display matrix, as FFmpeg's
    ``autorotate`` applies it (rotations by multiples of 90 degrees and their mirror images;
    any other angle is left alone: 1)."""
    m = display_matrix(frame)
    if m is None:
        return 1
    theta = -float(frame.rotation)
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return 5 if m[3] > 0 else 6
    if abs(theta - 180) < 1:
        h, v = m[0] < 0, m[4] < 0
        return 3 if h and v else 2 if h else 4 if v else 1
    if abs(theta - 270) < 1:
        return 7 if m[3] < 0 else 8
    if abs(theta) < 1 and m[4] < 0:
        return 4
    return 1
