"""A ``cv2.VideoCapture`` that decodes only the frames that are retrieved.

OpenCV's ``grab()`` decodes a frame; hosts that keep one frame in *n* (Ultralytics'
``vid_stride``, supervision's ``stride``) call it *n* - 1 times between reads and so decode every
frame. Here ``grab()`` only moves the position; ``retrieve()`` / ``read()`` decode the frame at
the position through :class:`~smolplug.compat.cursor.FrameCursor` (straight through when reading
sequentially; a GOP seek with non-reference frames skipped when jumping). The frames are the ones
OpenCV returns: frame *i* is the i-th frame of a sequential decode, converted to BGR by FFmpeg's
swscale as OpenCV's FFmpeg backend does (pixel-identical on the test corpus), rotated by the
stream's display matrix unless ``CAP_PROP_ORIENTATION_AUTO`` is switched off.

Properties follow OpenCV's FFmpeg backend: ``CAP_PROP_POS_FRAMES`` is the index of the next frame
to grab; ``CAP_PROP_POS_MSEC`` the timestamp of the last grabbed frame (relative to the stream's
start); ``CAP_PROP_FRAME_COUNT`` the container's frame count (its duration x rate when it has
none: OpenCV's estimate, kept so that hosts iterate as they would); ``CAP_PROP_FPS`` FFmpeg's
guessed rate. Unsupported properties read 0.0 and cannot be set, as in OpenCV.

:func:`open_capture` is what adapters put in place of ``cv2.VideoCapture``: local video files get
this capture; cameras, URLs and files it cannot open get OpenCV's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import SmolplugError, Status
from ..frames.readers import VIDEO_SUFFIXES
from ..video.frames import orient
from .cursor import FrameCursor

# OpenCV's property ids (cv2.CAP_PROP_*), so that this module does not need cv2
POS_MSEC, POS_FRAMES, POS_AVI_RATIO, FRAME_WIDTH, FRAME_HEIGHT, FPS, FOURCC, FRAME_COUNT = range(8)
ORIENTATION_META, ORIENTATION_AUTO = 48, 49


class VideoCapture:
    """``cv2.VideoCapture(filename)`` for video files, decoding lazily (see the module)."""

    def __init__(self, filename: str | os.PathLike[str] | None = None, apiPreference: int = 0, *args: Any):
        self._cursor: FrameCursor | None = None
        self._stats: Any = None
        self._next = 0  #: CAP_PROP_POS_FRAMES: the frame the next grab() takes
        self._grabbed: int | None = None
        self._image: np.ndarray | None = None  #: the last retrieved frame (retrieve() twice)
        self._pts: dict[int, int | None] = {}
        self._auto_rotate = True
        self._handed_out = False
        self._reformatter = VideoReformatter()
        self.status, self.message = Status.OK, ""
        if filename is not None:
            self.open(filename, apiPreference)

    # -- opening -------------------------------------------------------------------------------
    def open(self, filename: str | os.PathLike[str], apiPreference: int = 0, *args: Any) -> bool:
        self.release()
        try:
            self._cursor = FrameCursor(filename)
            self._stats = self._cursor.stats  # kept after release()
        except (SmolplugError, OSError, ValueError) as exc:
            self._cursor = None
            self.status, self.message = Status.MISSING, str(exc)
            return False
        s = self._cursor.stream
        self._fps = _opencv_fps(s)
        self._count = _opencv_frame_count(s, self._fps)
        if self._count <= 0:  # no count and no duration (raw streams): OpenCV's estimate is noise
            self._count = self._cursor.index.n_frames
        self._start = s.start_time or 0
        self._tb = float(s.time_base) if s.time_base else 0.0
        return True

    def isOpened(self) -> bool:
        return self._cursor is not None

    def release(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._cursor = None
        self._next, self._grabbed, self._image = 0, None, None

    def getBackendName(self) -> str:
        return "smolplug"

    # -- frames --------------------------------------------------------------------------------
    def grab(self) -> bool:
        """Take the next frame without decoding it; False past the end."""
        if self._cursor is None or not self._exists(self._next):
            self._grabbed = None
            return False
        self._grabbed, self._image = self._next, None
        self._next += 1
        return True

    def retrieve(self, image: np.ndarray | None = None, flag: int = 0) -> tuple[bool, np.ndarray | None]:
        """Decode the grabbed frame: ``(True, BGR image)``, or ``(False, None)`` when there is
        none (``status`` / ``message`` say why)."""
        if self._cursor is None or self._grabbed is None:
            return False, None
        if self._image is None:
            frame = self._cursor.frame(self._grabbed)
            self.status, self.message = self._cursor.status, self._cursor.message
            if frame is None:
                self._grabbed = None
                return False, None
            ts = frame.pts if frame.pts is not None else frame.dts  # FFmpeg's best effort
            self._pts[self._grabbed] = None if ts is None else int(ts)
            # one swscale context for the whole stream (a new one per frame costs more than
            # the conversion)
            img = self._reformatter.reformat(frame, format="bgr24").to_ndarray()
            if self._auto_rotate and self._cursor.orientation != 1:
                img = np.ascontiguousarray(orient(img, self._cursor.orientation))
            self._image, self._handed_out = img, False
        if image is not None and image.shape == self._image.shape and image.dtype == self._image.dtype:
            image[...] = self._image
            return True, image
        if not self._handed_out:  # the caller owns the array, as with OpenCV
            self._handed_out = True
            return True, self._image
        return True, self._image.copy()

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray | None]:
        if not self.grab():
            return False, None
        return self.retrieve(image)

    def _exists(self, i: int) -> bool:
        cur = self._cursor
        assert cur is not None
        if cur.indexed or not cur.stream.frames:
            return i < cur.index.n_frames
        return i < cur.stream.frames  # the container's count: a retrieve past the real end says so

    # -- properties ----------------------------------------------------------------------------
    def get(self, prop: int) -> float:
        cur = self._cursor
        if cur is None:
            return 0.0
        if prop == POS_FRAMES:
            return float(self._next)
        if prop == POS_MSEC:
            return self._msec()
        if prop == FRAME_COUNT:
            return float(self._count)
        if prop == FPS:
            return float(self._fps)
        if prop in (FRAME_WIDTH, FRAME_HEIGHT):
            cc = cur.stream.codec_context
            w, h = cc.width, cc.height
            if self._auto_rotate and cur.orientation >= 5:
                w, h = h, w
            return float(w if prop == FRAME_WIDTH else h)
        if prop == POS_AVI_RATIO:
            return float(self._next / self._count) if self._count else 0.0
        if prop == ORIENTATION_AUTO:
            return 1.0 if self._auto_rotate else 0.0
        if prop == ORIENTATION_META:
            return float(_ROTATION.get(cur.orientation, 0))
        return 0.0

    def _msec(self) -> float:
        """The last grabbed frame's timestamp from the stream's start, as OpenCV reports it (0
        when the frame has none). A frame grabbed but not decoded takes the index's timestamp."""
        i = self._grabbed if self._grabbed is not None else self._next - 1
        if i < 0:
            return 0.0
        if i in self._pts:
            pts = self._pts[i]
        else:
            assert self._cursor is not None
            ix = self._cursor.index
            pts = int(ix.pts[i]) if i < ix.n_frames and ix.identity == "pts" else None
        if pts is None:
            return 0.0
        return (pts - self._start) * self._tb * 1000.0

    def set(self, prop: int, value: float) -> bool:
        cur = self._cursor
        if cur is None:
            return False
        if prop == POS_FRAMES:
            self._next, self._grabbed, self._image = max(int(value), 0), None, None
            return True
        if prop == POS_MSEC:
            ix = cur.index
            t = self._start * self._tb + float(value) / 1000.0
            self._next = int(np.searchsorted(ix.timestamps, t - 1e-9))
            self._grabbed, self._image = None, None
            return True
        if prop == POS_AVI_RATIO:
            return self.set(POS_FRAMES, round(float(value) * self._count))
        if prop == ORIENTATION_AUTO:
            self._auto_rotate = bool(value)
            return True
        return False

    # -- smolplug's own ------------------------------------------------------------------------
    @property
    def frames_decoded(self) -> int:
        return self._stats.frames_decoded if self._stats is not None else 0

    def __enter__(self) -> VideoCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_ROTATION = {6: 90, 3: 180, 8: 270}


def _opencv_fps(stream: Any) -> float:
    """OpenCV's CAP_PROP_FPS: the stream's average frame rate, else its base rate, else
    1 / time base."""
    rate = stream.average_rate or stream.base_rate
    if rate:
        return float(rate)
    return 1.0 / float(stream.time_base) if stream.time_base else 0.0


def _opencv_frame_count(stream: Any, fps: float) -> int:
    """OpenCV's CAP_PROP_FRAME_COUNT: the stream's frame count, else duration x rate (0 when
    the container knows neither)."""
    if stream.frames:
        return int(stream.frames)
    container = stream.container
    sec = container.duration / 1e6 if container.duration else 0.0
    if sec <= 0 and stream.duration and stream.time_base:
        sec = stream.duration * float(stream.time_base)
    return int(math.floor(sec * fps + 0.5))


def is_video_file(source: Any) -> bool:
    """A local file with a video suffix (what :func:`open_capture` serves itself)."""
    if not isinstance(source, str | os.PathLike):
        return False
    p = Path(source)
    return p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()


def replacing(original: Any) -> Any:
    """What an adapter puts in place of a host's ``VideoCapture`` (OpenCV's class, or its
    stand-in): :func:`open_capture` with ``original`` for what smolplug does not serve."""

    def VideoCapture(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - OpenCV's name
        return open_capture(original, *args, **kwargs)

    VideoCapture.original = original  # type: ignore[attr-defined]
    return VideoCapture


def open_capture(original: Any, source: Any = None, *args: Any, **kwargs: Any) -> Any:
    """``VideoCapture(source, ...)`` for a local video file smolplug can open, else
    ``original(source, ...)`` (cameras, streams, image sequences, files it cannot read)."""
    if source is not None and is_video_file(source):
        cap = VideoCapture(source)
        if cap.isOpened():
            return cap
    if source is None:
        return original(*args, **kwargs)
    return original(source, *args, **kwargs)
