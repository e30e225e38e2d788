"""PyAV frame -> model-ready frame, through the native plane converter (no full-resolution RGB
image). Pixel formats the converter does not read go through FFmpeg's ``reformat`` to rgb24."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _binding as native


def convert(frame: Any, cspec: Any, out: np.ndarray) -> dict[str, Any]:
    """Convert an ``av.VideoFrame`` into ``out`` (``spec.frame_shape``)."""
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
