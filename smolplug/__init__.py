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
from .hookspecs import hookimpl
from .jpeg import DecodedBatch, JpegInfo, decode_jpeg, decode_jpeg_batch, probe_jpeg
from .plugins import get_plugin_manager
from .readers import FrameBatch, FrameReader, FrameRequest
from .spec import FrameSpec

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
