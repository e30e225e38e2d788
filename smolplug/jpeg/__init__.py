"""JPEG decoding straight into batch tensors.

Enters: JPEG bytes and a :class:`~smolplug.request.FrameSpec`.
Leaves: decoded, resized, normalised arrays in the spec's layout (one image, or a
:class:`DecodedBatch` with a per-item status), decoded by the native libjpeg-turbo extension
(DCT-domain scaling, region of interest, fused resize/normalise; :mod:`smolplug._binding`) or,
without it, by the Pillow fallback (:mod:`smolplug.jpeg._pillow`). ``samples`` makes synthetic
JPEGs for calibration and benchmarks.
"""

from .decode import (
    DEFAULT_MAX_MEMORY,
    DEFAULT_MAX_PIXELS,
    DecodedBatch,
    JpegInfo,
    backend,
    decode_jpeg,
    decode_jpeg_batch,
    default_threads,
    native_available,
    native_error,
    probe_jpeg,
)

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_PIXELS",
    "DecodedBatch",
    "JpegInfo",
    "backend",
    "decode_jpeg",
    "decode_jpeg_batch",
    "default_threads",
    "native_available",
    "native_error",
    "probe_jpeg",
]
