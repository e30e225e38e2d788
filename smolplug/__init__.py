"""smolplug: preprocessing-aware acceleration for DNN visual analytics engines."""

from __future__ import annotations

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
from .jpeg import DecodedBatch, JpegInfo, decode_jpeg, decode_jpeg_batch, probe_jpeg
from .spec import FrameSpec

__version__ = "0.1.0"

__all__ = [
    "CorruptDataError",
    "DecodeError",
    "DecodeWarning",
    "DecodedBatch",
    "DecompressionBombError",
    "EmptyInputError",
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
    "decode_jpeg_batch",
    "probe_jpeg",
]
