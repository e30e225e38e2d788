"""Drop-in readers: the video APIs hosts already call, decoding only what they keep.

Enters: a video path, opened through ``cv2.VideoCapture``'s or ``decord.VideoReader``'s interface
(by the host itself, or by an adapter that swaps them in: ``supervision``, ``decord``).
Leaves: the frames those libraries return — same indices (frame *i* is the i-th frame of a
sequential decode), same pixels (FFmpeg's swscale conversion, as theirs) — decoded by
:class:`~smolplug.compat.cursor.FrameCursor`: straight through when reading sequentially, a GOP
seek with non-reference frames skipped when the host skips frames (:mod:`smolplug.video`).
"""

from .capture import VideoCapture, open_capture
from .cursor import FrameCursor
from .decord import NDArray, VideoReader

__all__ = ["FrameCursor", "NDArray", "VideoCapture", "VideoReader", "open_capture"]
