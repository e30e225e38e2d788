"""Frame index of a video: which frames a sequential decode outputs, in which order, and where an
exact decode can start (:class:`VideoIndex`), and the file identity its caches are keyed by.

**Frame i is the i-th frame a plain sequential decode outputs** (``container.decode(video=0)``,
what OpenCV, decord and torchcodec users count). How an index is built, cached and loaded:
:mod:`smolplug.video.scan`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

INDEX_VERSION = 5

#: codecs whose B-frames are never references: an open-GOP keyframe is an exact start for every
#: frame shown from it on (only the B-frames shown before it lack a reference)
NONREF_B_CODECS = frozenset(
    {
        "mpeg1video",
        "mpeg2video",
        "mpeg4",
        "msmpeg4v1",
        "msmpeg4v2",
        "msmpeg4v3",
        "h263",
        "h263p",
        "wmv1",
        "wmv2",
    }
)


def fingerprint(path: str | os.PathLike[str]) -> str:
    """Size, mtime and the first and last 64 KiB: changes when the file does."""
    p = Path(path)
    st = p.stat()
    h = hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with p.open("rb") as f:
        h.update(f.read(65536))
        if st.st_size > 65536:
            f.seek(max(st.st_size - 65536, 65536))
            h.update(f.read(65536))
    return h.hexdigest()


@dataclass
class VideoIndex:
    path: str
    fingerprint: str
    codec: str
    width: int  #: coded (stored) width
    height: int  #: coded (stored) height
    pix_fmt: str
    time_base: Fraction
    pts: np.ndarray  #: int64 per frame: the timestamp the decoder gives frame i (identifies it)
    keyframe: np.ndarray  #: bool per frame: an exact decode can start at frame i (seek to its pts)
    has_b_frames: bool
    #: bool per frame: the container flags it a keyframe (open-GOP keyframes included: what
    #: "I-frames" means to hosts such as EvaDB's ``SAMPLE IFRAMES``)
    flagged: np.ndarray | None = None
    timing: str = "container"  #: "container" (packet timestamps) or "decoded" (a sequential decode)
    identity: str = "pts"  #: "pts": frames identified by timestamp; "count": only from-start decoding
    note: str = ""  #: why the container's timestamps were not used, when they were not
    seconds: np.ndarray | None = None  #: float64 per frame (default: pts x time_base)
    crc: np.ndarray | None = None  #: int64 per frame: CRC-32 of the luma plane (-1: none) ("decoded")
    reorder: int = 0  #: most frames output between a frame and a frame decoded before it
    orientation: int = 1  #: display orientation of the stream (EXIF numbering 1..8)
    #: bool per frame: a keyframe no later-decoded frame is shown before (a closed GOP starts
    #: there: nothing after it in decode order refers to anything before it); default ``keyframe``
    closed: np.ndarray | None = None
    #: int64 per frame: byte offset of its packet ("container" timing; -1 unknown): after a seek
    #: a packet must come from the same place, or the demuxer's timestamps cannot be trusted there
    pos: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds, float64, per frame."""
        if self.seconds is not None:
            return self.seconds
        return self.pts.astype(np.float64) * float(self.time_base)

    @property
    def keyframes(self) -> np.ndarray:
        """Frames where an exact decode can start (seek points)."""
        return np.flatnonzero(self.keyframe)

    @property
    def closed_keyframes(self) -> np.ndarray:
        return np.flatnonzero(self.closed if self.closed is not None else self.keyframe)

    @property
    def flagged_keyframes(self) -> np.ndarray:
        return np.flatnonzero(self.flagged if self.flagged is not None else self.keyframe)

    @property
    def transposed(self) -> bool:
        """The display orientation swaps width and height (rotation by 90 or 270 degrees)."""
        return self.orientation >= 5

    @property
    def display_width(self) -> int:
        return self.height if self.transposed else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.transposed else self.height

    def to_json(self) -> dict:
        def opt(a: np.ndarray | None) -> list | None:
            return None if a is None else a.tolist()

        return {
            "version": INDEX_VERSION,
            "path": self.path,
            "fingerprint": self.fingerprint,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "pts": self.pts.tolist(),
            "keyframes": self.keyframes.tolist(),
            "flagged_keyframes": self.flagged_keyframes.tolist(),
            "has_b_frames": self.has_b_frames,
            "timing": self.timing,
            "identity": self.identity,
            "note": self.note,
            "seconds": opt(self.seconds),
            "crc": opt(self.crc),
            "reorder": self.reorder,
            "orientation": self.orientation,
            "closed_keyframes": self.closed_keyframes.tolist(),
            "pos": opt(self.pos),
        }

    @classmethod
    def from_json(cls, d: dict) -> VideoIndex:
        pts = np.asarray(d["pts"], np.int64)

        def mask(key: str) -> np.ndarray:
            m = np.zeros(len(pts), bool)
            m[np.asarray(d[key], np.int64)] = True
            return m

        def opt(key: str, dtype: Any) -> np.ndarray | None:
            return None if d.get(key) is None else np.asarray(d[key], dtype)

        return cls(
            d["path"],
            d["fingerprint"],
            d["codec"],
            d["width"],
            d["height"],
            d["pix_fmt"],
            Fraction(*d["time_base"]),
            pts,
            mask("keyframes"),
            d["has_b_frames"],
            mask("flagged_keyframes"),
            d["timing"],
            d["identity"],
            d["note"],
            opt("seconds", np.float64),
            opt("crc", np.int64),
            int(d["reorder"]),
            int(d["orientation"]),
            mask("closed_keyframes"),
            opt("pos", np.int64),
        )
