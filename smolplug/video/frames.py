"""PyAV frame -> model-ready frame, through the native plane converter (no full-resolution RGB
image). Pixel formats the converter does not read go through FFmpeg's ``reformat`` to rgb24, and
so do plain full-size uint8 RGB/BGR requests (colour conversion only: swscale's SIMD path).

``orientation`` (EXIF numbering, from the video's display matrix) is applied in the same pass:
geometry and ROI are in display coordinates.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter

from .. import _binding as native

_OK = {"status": 0, "message": ""}
#: one swscale context per thread, reused while the frame size and formats stay the same
#: (``VideoFrame.to_ndarray(format=...)`` builds a new one per frame: ~8x the conversion time)
_local = threading.local()


def reformatter() -> VideoReformatter:
    r = getattr(_local, "reformatter", None)
    if r is None:
        r = _local.reformatter = VideoReformatter()
    return r


def is_plain_rgb(cspec: Any, width: int, height: int) -> bool:
    """The request is the whole frame at its own (display) size as uint8 RGB/BGR (HWC): nothing
    to resample or normalise, only colour conversion, which FFmpeg's swscale does fastest."""
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


def orient(img: np.ndarray, orientation: int) -> np.ndarray:
    """A stored (H, W, ...) image as displayed under EXIF ``orientation`` (a view)."""
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:
        return img.swapaxes(0, 1)
    if orientation == 6:
        return img.swapaxes(0, 1)[:, ::-1]
    if orientation == 7:
        return img.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return img.swapaxes(0, 1)[::-1]
    return img


def convert(frame: Any, cspec: Any, out: np.ndarray, orientation: int = 1) -> dict[str, Any]:
    """Convert an ``av.VideoFrame`` into ``out`` (``spec.frame_shape``), displayed under
    ``orientation``."""
    w, h = (frame.height, frame.width) if orientation >= 5 else (frame.width, frame.height)
    if is_plain_rgb(cspec, w, h):
        fmt = "rgb24" if cspec.colorspace == native.lib.SP_COLOR_RGB else "bgr24"
        rgb = (
            reformatter()
            .reformat(frame, format=fmt, src_colorspace=frame.colorspace, src_color_range=frame.color_range)
            .to_ndarray()
        )
        out[...] = orient(rgb, orientation)
        return _OK
    name = frame.format.name
    entry = native.PIX_FORMATS.get(name)
    if entry is None:
        frame = reformatter().reformat(frame, format="rgb24")
        entry = native.PIX_FORMATS["rgb24"]
    fmt, full = entry
    full = full or frame.color_range == native.AVCOL_RANGE_JPEG
    bt709 = frame.colorspace == native.AVCOL_SPC_BT709
    planes = frame.planes
    return native.convert_planes(
        planes,
        [p.line_size for p in planes],
        fmt,
        frame.width,
        frame.height,
        full,
        bt709,
        cspec,
        out,
        orientation,
    )
