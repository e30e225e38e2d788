"""Adapter for Ultralytics (``ultralytics`` 8.4): its video loader,
``ultralytics.data.loaders.LoadImagesAndVideos``, calls ``cap.grab()`` ``vid_stride`` times and
then ``cap.retrieve()``; every OpenCV grab decodes a frame. The adapter gives the loaders module a
``cv2`` whose ``VideoCapture`` is smolplug's lazy capture for local video files (see
:mod:`smolplug.compat.capture`): grabs only move the position and each retrieved frame is reached
by a GOP seek, non-reference frames skipped. Everything else of ``cv2`` is OpenCV's; cameras,
streams and files smolplug cannot open get OpenCV's capture. The frames (BGR, same indices),
their count and the properties the loader reads are OpenCV's, so predictions are unchanged.
"""

from __future__ import annotations

import types
from typing import Any

from . import Adapter, Patcher

TARGET = "ultralytics.data.loaders"


class _Cv2(types.ModuleType):
    """OpenCV, with ``VideoCapture`` replaced."""

    def __init__(self, cv2: types.ModuleType, capture: Any):
        super().__init__(cv2.__name__, cv2.__doc__)
        self._cv2 = cv2
        self.VideoCapture = capture

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cv2, name)


def _apply(module: types.ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..compat.capture import replacing

    patcher.setattr(module, "cv2", _Cv2(module.cv2, replacing(module.cv2.VideoCapture)))


adapter = Adapter(
    "ultralytics",
    TARGET,
    _apply,
    "Ultralytics: video sources decoded lazily (vid_stride skips decoding)",
)
enable, disable = adapter.enable, adapter.disable
