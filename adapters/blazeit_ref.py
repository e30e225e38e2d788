"""Adapter for the BlazeIt-style reference engine (``integration_tests.engines.blazeit``).

Replaces ``BlazeIt.load`` — the original decodes every frame with OpenCV at full resolution,
then resizes, converts and normalises it in separate passes — with smolplug: each frame is
decoded at the lowest resolution covering 65x65 (a low-res rendition when one exists) and
converted in one fused native pass into the engine's normalised NCHW float32 batch.

Options (``enable(**options)``): ``scale_headroom`` (1.0), ``threads``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..spec import FrameSpec
from . import Adapter, Patcher
from ._frames import load_frames, reader_options

TARGET = "integration_tests.engines.blazeit"


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    engine_cls = module.BlazeIt
    loaded_cls = module.LoadedFrames
    size = module.SIZE
    spec = FrameSpec(
        size,
        size,
        mean=tuple(float(m) for m in module.MEAN),
        std=tuple(float(s) for s in module.STD),
        layout="NCHW",
        dtype="float32",
    )

    def load(self: Any, indices: np.ndarray) -> Any:
        got = load_frames(self.video, indices, spec, **reader_options(options))
        return loaded_cls(
            got.indices,
            [got.data],
            got.frames_decoded,
            got.pixels_decoded,
            got.seconds,
            loader="smolplug",
            details={"reader": got.reader},
        )

    patcher.setattr(engine_cls, "load", load)


adapter = Adapter(
    "blazeit_ref",
    TARGET,
    _apply,
    "BlazeIt-style engine: low-resolution decoding fused with resize and normalisation",
)
enable, disable = adapter.enable, adapter.disable
