"""Adapter for supervision (``supervision`` 0.31): its video utilities
(``get_video_frames_generator``, ``process_video``, ``VideoInfo``) open videos through
``supervision._cv2.VideoCapture``, looked up when they are called; the adapter puts smolplug's
lazy capture there for local video files (see :mod:`smolplug.compat.capture`), so a ``stride``
of *n* decodes one frame in *n* instead of every frame. Cameras, streams and files smolplug
cannot open get supervision's own capture (OpenCV's, or its PyAV fallback). Frames, their order
and the properties supervision reads (fps, size, frame count) are OpenCV's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from . import Adapter, Patcher

TARGET = "supervision._cv2"


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..compat.capture import replacing

    patcher.setattr(module, "VideoCapture", replacing(module.VideoCapture))


adapter = Adapter(
    "supervision", TARGET, _apply, "supervision: video frames decoded lazily (stride skips decoding)"
)
enable, disable = adapter.enable, adapter.disable
