"""Exception hierarchy and per-item status codes.

Exceptions inherit from both :class:`SmolplugError` and the matching builtin, as
PyAV does, so ``except ValueError`` keeps working for callers that do not know
smolplug.
"""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Outcome of decoding one item (values shared with the native layer)."""

    OK = 0
    WARNING = 1  #: decoded; the decoder reported recoverable damage (see the message)
    EMPTY = 2
    NOT_JPEG = 3
    TRUNCATED = 4
    CORRUPT = 5
    UNSUPPORTED = 6
    TOO_LARGE = 7
    ROI_OUT_OF_BOUNDS = 8
    NO_MEMORY = 9
    INVALID_INPUT = 10
    INTERNAL = 11
    IO_ERROR = 12  #: the item could not be read (file missing, permission, ...)
    MISSING = 13  #: the frame does not exist or the decoder never produced it (see the message)

    @property
    def ok(self) -> bool:
        """True when the item's pixels were delivered."""
        return self <= Status.WARNING


class SmolplugError(Exception):
    """Base class of every error smolplug raises."""


class SpecError(SmolplugError, ValueError):
    """A request (FrameSpec, FrameRequest, arguments) is invalid."""


class NativeUnavailableError(SmolplugError, ImportError):
    """The compiled extension is not importable."""


class PluginError(SmolplugError, RuntimeError):
    """No plugin could serve a hook call, or a plugin misbehaved."""


class DecodeError(SmolplugError, ValueError):
    """An item could not be decoded. ``status`` says why, ``index`` which item (batch calls)."""

    status: Status = Status.CORRUPT

    def __init__(self, message: str, *, index: int | None = None, status: Status | None = None):
        super().__init__(message)
        self.index = index
        if status is not None:
            self.status = status


class EmptyInputError(DecodeError):
    status = Status.EMPTY


class NotJPEGError(DecodeError):
    status = Status.NOT_JPEG


class TruncatedError(DecodeError):
    status = Status.TRUNCATED


class CorruptDataError(DecodeError):
    status = Status.CORRUPT


class UnsupportedFormatError(DecodeError):
    status = Status.UNSUPPORTED


class DecompressionBombError(DecodeError):
    status = Status.TOO_LARGE


class RegionOutOfBoundsError(DecodeError):
    status = Status.ROI_OUT_OF_BOUNDS


class MissingFrameError(DecodeError, LookupError):
    status = Status.MISSING


class InvalidInputError(DecodeError, TypeError):
    status = Status.INVALID_INPUT


class ReadError(DecodeError, OSError):
    status = Status.IO_ERROR


class DecodeWarning(UserWarning):
    """Recoverable damage reported by the decoder (only with ``strict=False``)."""


_BY_STATUS: dict[Status, type[DecodeError]] = {
    Status.EMPTY: EmptyInputError,
    Status.NOT_JPEG: NotJPEGError,
    Status.TRUNCATED: TruncatedError,
    Status.CORRUPT: CorruptDataError,
    Status.UNSUPPORTED: UnsupportedFormatError,
    Status.TOO_LARGE: DecompressionBombError,
    Status.ROI_OUT_OF_BOUNDS: RegionOutOfBoundsError,
    Status.INVALID_INPUT: InvalidInputError,
    Status.IO_ERROR: ReadError,
    Status.MISSING: MissingFrameError,
}


def error_for(status: Status | int, message: str, *, index: int | None = None) -> Exception:
    """The exception that reports ``status`` (never called for OK/WARNING)."""
    status = Status(status)
    if status == Status.NO_MEMORY:
        return MemoryError(message)
    cls = _BY_STATUS.get(status, DecodeError)
    return cls(message, index=index, status=status)
