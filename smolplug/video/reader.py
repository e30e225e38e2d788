"""VideoReader: the video FrameReader — index, plan, decode the wanted frames only, convert them
into batches in request order."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import _binding as native
from ..errors import RegionOutOfBoundsError, SpecError
from ..frames.readers import FrameRequest
from ..jpeg.decode import default_threads
from .batches import Item, PositionsReader
from .decode import VideoDecoder
from .index import VideoIndex
from .renditions import pick_rendition
from .scan import load_index


class VideoReader(PositionsReader):
    """Frames of one video file, decoded GOP by GOP.

    Frame *i* is the i-th frame of a sequential decode (see :mod:`smolplug.video.index`). Every
    requested position is delivered in request order: ``Status.OK``; ``WARNING`` (damaged, pixels
    delivered, with ``strict=False``); ``CORRUPT`` (damaged: decoded with errors or predicted from
    a frame that was); or ``MISSING`` (the frame does not exist or the decoder never produced it),
    each with the reason. The video's display matrix (rotation) is applied when
    ``request.autorotate``: output size and ROI are in display orientation. ``stats`` counts
    decoded frames and pixels.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        request: FrameRequest,
        *,
        index: VideoIndex | None = None,
        cache: Path | str | None | bool = None,
    ):
        self.path = Path(path)
        self.index = index or load_index(self.path, cache)
        ix = self.index
        self._select(request, ix.n_frames, ix.timestamps)
        self.orientation = ix.orientation if request.autorotate else 1
        dw, dh = (ix.height, ix.width) if self.orientation >= 5 else (ix.width, ix.height)
        # Decode at the lowest resolution that covers the request: a low-res rendition (same
        # frames and keyframes, see renditions.py) or, for MJPEG, FFmpeg's DCT-domain `lowres`.
        spec, read_path, lowres, self.rendition = request.spec, self.path, 0, None
        if request.scale_headroom != float("inf") and dw > 0 and dh > 0:  # size unknown: no frame decodes
            try:
                rend, spec = pick_rendition(
                    self.path, request.spec, dw, dh, request.scale_headroom, self.orientation >= 5
                )
                if rend is not None:
                    self.rendition, read_path = rend, rend.path
                elif ix.codec == "mjpeg":
                    lowres, spec = _pick_lowres(request.spec, dw, dh, request.scale_headroom)
            except RegionOutOfBoundsError:  # reported frame by frame (frames may differ in size)
                spec, read_path, lowres, self.rendition = request.spec, self.path, 0, None
        self.lowres = lowres
        self.read_path = read_path
        read_index = ix
        if self.rendition is not None:
            read_index = load_index(read_path, cache)
            if read_index.n_frames != ix.n_frames:
                raise SpecError(
                    f"rendition {read_path} has {read_index.n_frames} frames, the source "
                    f"{ix.n_frames}: remake the renditions"
                )
        self._cspec = native.make_spec(
            spec, strict=request.strict, max_pixels=request.max_pixels, fastdct=False, fastupsample=False
        )
        self._decoder = VideoDecoder(
            read_path,
            read_index,
            self.stats,
            strict=request.strict,
            lowres=lowres,
            cache=cache,
            workers=request.threads or default_threads(),
        )

    @property
    def seeks(self) -> int:
        return self._decoder.seeks

    def _decode(self, wanted: np.ndarray) -> Iterator[Item]:
        source = str(self.path)
        for d in self._decoder.frames(wanted):
            yield Item(d.index, d.frame, d.status, d.message, self._cspec, self.orientation, source)

    def _absent(self, i: int) -> str:
        return f"frame {i} does not exist (the video has {self.index.n_frames} frames)"

    def _items(self) -> Iterator[tuple[int, Any]]:
        """(index, av.VideoFrame or the reason it is not delivered) per requested position, in
        request order (see :meth:`PositionsReader._outcomes`)."""
        for i, d in self._outcomes():
            yield i, self._absent(i) if d is None else d.frame if d.frame is not None else d.message

    def close(self) -> None:
        self._decoder.close()


def _pick_lowres(spec: Any, w: int, h: int, headroom: float) -> tuple[int, Any]:
    """Largest FFmpeg ``lowres`` k (decode at 1/2**k) whose frame still covers the request."""
    from ..request.geometry import compute_geometry

    g = compute_geometry(spec, w, h)
    k = 0
    while k < 3 and g.sw / 2 ** (k + 1) >= g.dw * headroom and g.sh / 2 ** (k + 1) >= g.dh * headroom:
        k += 1
    if k and spec.roi is not None:
        x, y, rw, rh = spec.roi
        f = 2**k
        spec = spec.replace(roi=(x / f, y / f, rw / f, rh / f))
    return k, spec
