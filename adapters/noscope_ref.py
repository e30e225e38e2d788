"""Adapter for the NoScope-style reference engine (``integration_tests.engines.noscope``).

Replaces ``NoScope.load`` — the original decodes every frame with OpenCV at full resolution and
keeps every k-th — with smolplug: only the sampled frames (and the frames they depend on) are
decoded, at the lowest resolution that covers 100x100 (a low-res rendition when one exists),
converted straight to the 100x100 BGR input of the difference detector; the CNN's 50x50 input is
its 2x2 box average. When the query is positional (a region of the frame), only that region plus
``roi_margin`` (a fraction of the frame) is converted: the difference detector and the CNN see
the part of the frame the predicate is about. The engine trains its CNN and fits its thresholds
on frames loaded the same way, so its accuracy targets keep holding.

Options (``enable(**options)``): ``roi`` (default True), ``roi_margin`` (0.1),
``scale_headroom`` (1.0; ``inf`` decodes at full resolution), ``threads``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..spec import FrameSpec
from . import Adapter, Patcher
from ._frames import load_frames, reader_options

TARGET = "integration_tests.engines.noscope"


def region_roi(
    region: tuple[float, float, float, float], margin: float, width: int, height: int
) -> tuple[float, float, float, float] | None:
    """Pixel ROI (x, y, w, h) of a fractional region grown by ``margin``; None for the whole frame."""
    x0, y0, x1, y1 = region
    x0, y0 = max(0.0, x0 - margin), max(0.0, y0 - margin)
    x1, y1 = min(1.0, x1 + margin), min(1.0, y1 + margin)
    if x0 <= 0 and y0 <= 0 and x1 >= 1 and y1 >= 1:
        return None
    return (x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..video import load_index

    engine_cls = module.NoScope
    loaded_cls = module.LoadedFrames
    size, small = module.DIFF_SIZE, module.CNN_SIZE
    if size % small:
        raise ValueError(f"{TARGET}: CNN size {small} does not divide the difference size {size}")
    f = size // small

    def load(self: Any, indices: np.ndarray) -> Any:
        q = self.query
        roi = None
        if options.get("roi", True):
            ix = load_index(q.video)
            roi = region_roi(q.region, options.get("roi_margin", 0.1), ix.width, ix.height)
        spec = FrameSpec(size, size, roi=roi, colorspace="BGR", layout="NHWC", dtype="uint8")
        got = load_frames(q.video, indices, spec, **reader_options(options))
        big = got.data
        n = len(big)
        half = big.reshape(n, small, f, small, f, 3).mean(axis=(2, 4), dtype=np.float32)
        return loaded_cls(
            got.indices,
            [big, np.rint(half).astype(np.uint8)],
            got.frames_decoded,
            got.pixels_decoded,
            got.seconds,
            loader="smolplug",
            details={"roi": roi, "reader": got.reader},
        )

    patcher.setattr(engine_cls, "load", load)


adapter = Adapter(
    "noscope_ref",
    TARGET,
    _apply,
    "NoScope-style engine: sampled, low-resolution, region-of-interest frame loading",
)
enable, disable = adapter.enable, adapter.disable
