"""smolplug: preprocessing-aware acceleration for DNN visual analytics engines."""

from __future__ import annotations

from .api import make_executor, open_frames
from .errors import (
    CorruptDataError,
    DecodeError,
    DecodeWarning,
    DecompressionBombError,
    EmptyInputError,
    InvalidInputError,
    NotJPEGError,
    PluginError,
    ReadError,
    RegionOutOfBoundsError,
    SmolplugError,
    SpecError,
    Status,
    TruncatedError,
    UnsupportedFormatError,
)
from .frames.readers import FrameBatch, FrameReader, FrameRequest
from .jpeg.decode import DecodedBatch, JpegInfo, decode_jpeg, decode_jpeg_batch, probe_jpeg
from .plugins.hookspecs import hookimpl
from .plugins.manager import get_plugin_manager
from .request.spec import FrameSpec

__version__ = "0.1.0"

__all__ = [
    "CorruptDataError",
    "DecodeError",
    "DecodeWarning",
    "DecodedBatch",
    "DecompressionBombError",
    "EmptyInputError",
    "FrameBatch",
    "FrameReader",
    "FrameRequest",
    "FrameSpec",
    "InvalidInputError",
    "JpegInfo",
    "NotJPEGError",
    "PluginError",
    "ReadError",
    "RegionOutOfBoundsError",
    "SmolplugError",
    "SpecError",
    "Status",
    "TruncatedError",
    "UnsupportedFormatError",
    "decode_jpeg",
    "get_plugin_manager",
    "hookimpl",
    "make_executor",
    "open_frames",
    "decode_jpeg_batch",
    "probe_jpeg",
]
