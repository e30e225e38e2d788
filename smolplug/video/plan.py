"""Decode plans: wanted frames grouped by GOP, one seek per group, nothing decoded past the
last wanted frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import VideoIndex

#: Use skip_frame=NONREF when a segment decodes at least this many frames per wanted frame.
NONREF_MIN_SPAN = 4


@dataclass
class Segment:
    start: int  #: keyframe (frame index) the decoder seeks to
    targets: np.ndarray  #: wanted frame indices, ascending, all >= start
    skip: str  #: FFmpeg skip_frame: "DEFAULT", "NONREF" (verified afterwards) or "NONKEY"

    @property
    def last(self) -> int:
        return int(self.targets[-1])

    @property
    def span(self) -> int:
        """Frames decoded (presentation order) from the keyframe to the last target."""
        return self.last - self.start + 1


def plan(index: VideoIndex, wanted: np.ndarray) -> list[Segment]:
    """Group ascending ``wanted`` frames into segments.

    A new segment (a seek) starts when a wanted frame's keyframe lies beyond the frame after the
    previous wanted one: seeking there skips frames that continuing would decode. ``NONKEY`` is
    used when every target is a keyframe (intra frames need nothing else); ``NONREF`` when the segment is
    sparse: the reader then skips non-reference packets except the targets' own (non-reference
    frames are never used by other frames, so every target decodes identically). A video whose
    frames have no usable timestamps (``identity == "count"``) is one segment from the start with
    nothing skipped: counting output frames is then the only exact identity.
    """
    if len(wanted) == 0:
        return []
    if index.identity == "count":  # frames are known only by their place in a from-start decode
        return [Segment(0, np.asarray(wanted, np.int64), "DEFAULT")]
    keys = index.keyframes
    key_of = keys[np.searchsorted(keys, wanted, side="right") - 1]
    segments: list[Segment] = []
    first = 0
    for i in range(1, len(wanted) + 1):
        if i == len(wanted) or key_of[i] > wanted[i - 1] + 1:
            targets = wanted[first:i]
            start = int(key_of[first])
            if index.keyframe[targets].all():
                skip = "NONKEY"
            elif (targets[-1] - start + 1) >= NONREF_MIN_SPAN * len(targets):
                skip = "NONREF"
            else:
                skip = "DEFAULT"
            segments.append(Segment(start, targets, skip))
            first = i
    return segments
