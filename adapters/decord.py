"""Adapter for decord (``decord`` / ``eva-decord``): ``decord.VideoReader`` becomes smolplug's
lazy reader for every importer that looks it up after the adapter is enabled (with
``SMOLPLUG=1`` that is every importer: the adapter patches decord as it is imported).

Ray Data's ``read_videos``, EvaDB and many model scripts read through decord; with this adapter
``get_batch`` of every n-th frame decodes those frames (a seek per GOP, non-reference frames
skipped), not every frame up to each, and iterating decodes only the frames the consumer uses
(Ray Data's ``read_videos(fps=...)`` keeps one in n). Returns what decord returns (see
:mod:`smolplug.compat.decord`). File objects (Ray Data hands its readers Arrow streams) are
copied into a temporary file. Sources smolplug does not take stay with decord: non-video paths, a
GPU ``ctx`` (decord decodes on the GPU there), and files or streams smolplug cannot open (decord
then answers, with its own error).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from . import Adapter, Patcher

TARGET = "decord"


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..compat.capture import is_video_file
    from ..compat.decord import VideoReader, is_file_object, spool
    from ..errors import SmolplugError

    original = module.VideoReader

    class SmolplugVideoReader(VideoReader):
        """decord's VideoReader interface, decoding lazily (original: ``original``)."""

        original_reader = original

        def __new__(cls, uri: Any, ctx: Any = None, *args: Any, **kwargs: Any) -> Any:
            host_args = ([ctx] if ctx is not None else []) + list(args)
            on_gpu = ctx is not None and "gpu" in str(ctx).lower()
            stream = is_file_object(uri)
            if on_gpu or not (stream or is_video_file(uri)):
                return original(uri, *host_args, **kwargs)
            source = spool(uri) if stream else uri
            self = super().__new__(cls)
            try:
                VideoReader.__init__(self, source, ctx, *args, _spooled=stream, **kwargs)
            except SmolplugError:  # not a video smolplug can open: decord's answer
                if not stream:
                    return original(uri, *host_args, **kwargs)
                data = Path(source).read_bytes()
                os.unlink(source)
                return original(io.BytesIO(data), *host_args, **kwargs)
            return self

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass  # initialised by __new__

    SmolplugVideoReader.__qualname__ = SmolplugVideoReader.__name__ = "VideoReader"
    patcher.setattr(module, "VideoReader", SmolplugVideoReader)
    video_reader = getattr(module, "video_reader", None)
    if video_reader is not None and getattr(video_reader, "VideoReader", None) is original:
        patcher.setattr(video_reader, "VideoReader", SmolplugVideoReader)


adapter = Adapter("decord", TARGET, _apply, "decord: VideoReader decodes only the frames asked for")
enable, disable = adapter.enable, adapter.disable
