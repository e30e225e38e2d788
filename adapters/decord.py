"""Adapter for decord (``decord`` / ``eva-decord``): ``decord.VideoReader`` becomes smolplug's
lazy reader for every importer that looks it up after the adapter is enabled (with
``SMOLPLUG=1`` that is every importer: the adapter patches decord as it is imported).

Ray Data's ``read_videos``, EvaDB and many model scripts read through decord; with this adapter
``get_batch`` of every n-th frame decodes those frames (a seek per GOP, non-reference frames
skipped), not every frame up to each. Returns what decord returns (see
:mod:`smolplug.compat.decord`). Sources smolplug does not take stay with decord: file-like
objects, non-video paths, a GPU ``ctx`` (decord decodes on the GPU there).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from . import Adapter, Patcher

TARGET = "decord"


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..compat.capture import is_video_file
    from ..compat.decord import VideoReader

    original = module.VideoReader

    class SmolplugVideoReader(VideoReader):
        """decord's VideoReader interface, decoding lazily (original: ``original``)."""

        original_reader = original

        def __new__(cls, uri: Any, ctx: Any = None, *args: Any, **kwargs: Any) -> Any:
            on_gpu = ctx is not None and "gpu" in str(ctx).lower()
            if not is_video_file(uri) or on_gpu:
                return original(uri, *([ctx] if ctx is not None else []), *args, **kwargs)
            return super().__new__(cls)

    SmolplugVideoReader.__qualname__ = SmolplugVideoReader.__name__ = "VideoReader"
    patcher.setattr(module, "VideoReader", SmolplugVideoReader)
    video_reader = getattr(module, "video_reader", None)
    if video_reader is not None and getattr(video_reader, "VideoReader", None) is original:
        patcher.setattr(video_reader, "VideoReader", SmolplugVideoReader)


adapter = Adapter("decord", TARGET, _apply, "decord: VideoReader decodes only the frames asked for")
enable, disable = adapter.enable, adapter.disable
