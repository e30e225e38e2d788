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
