"""PyAV frame -> model-ready frame, through the native plane converter (no full-resolution RGB
image). Pixel formats the converter does not read go through FFmpeg's ``reformat`` to rgb24, and
so do plain full-size uint8 RGB/BGR requests (colour conversion only: swscale's SIMD path)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _binding as native

_OK = {"status": 0, "message": ""}


def is_plain_rgb(cspec: Any, width: int, height: int) -> bool:
    """The request is the whole frame at its own size as uint8 RGB/BGR (HWC): nothing to
    resample or normalise, only colour conversion, which FFmpeg's swscale does fastest."""
    lib = native.lib
    return (
        cspec.out_w == width
        and cspec.out_h == height
        and cspec.resize == lib.SP_RESIZE_EXACT
        and not cspec.has_roi
        and cspec.layout == lib.SP_LAYOUT_NHWC
        and cspec.dtype == lib.SP_DTYPE_U8
        and cspec.colorspace in (lib.SP_COLOR_RGB, lib.SP_COLOR_BGR)
    )


def convert(frame: Any, cspec: Any, out: np.ndarray) -> dict[str, Any]:
    """Convert an ``av.VideoFrame`` into ``out`` (``spec.frame_shape``)."""
    if is_plain_rgb(cspec, frame.width, frame.height):
        fmt = "rgb24" if cspec.colorspace == native.lib.SP_COLOR_RGB else "bgr24"
        out[...] = frame.to_ndarray(
            format=fmt, src_colorspace=frame.colorspace, src_color_range=frame.color_range
        )
        return _OK
    name = frame.format.name
    entry = native.PIX_FORMATS.get(name)
    if entry is None:
        frame = frame.reformat(format="rgb24")
        entry = native.PIX_FORMATS["rgb24"]
    fmt, full = entry
    full = full or frame.color_range == native.AVCOL_RANGE_JPEG
    bt709 = frame.colorspace == native.AVCOL_SPC_BT709
    planes = frame.planes
    return native.convert_planes(
        planes, [p.line_size for p in planes], fmt, frame.width, frame.height, full, bt709, cspec, out
    )
