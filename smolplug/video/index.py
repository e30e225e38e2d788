"""Frame index of a video: which frames a sequential decode outputs, in which order, and where an
exact decode can start. Cached on disk.

**Frame i is the i-th frame a plain sequential decode outputs** (``container.decode(video=0)``,
what OpenCV, decord and torchcodec users count). Two ways to learn that list:

* ``timing="container"`` — from the demuxed packets alone (no decoding): the frames are the
  packets in presentation-timestamp order. Used only where the container's timestamps can be
  trusted to give exactly that order: a container that stores per-packet presentation times
  (MP4/MOV, Matroska/WebM, MPEG-TS, FLV, ...), every packet timestamped, no duplicates, the first
  packet a keyframe, and no codec that packs several pictures per packet.
* ``timing="decoded"`` — otherwise (AVI, elementary streams, broken or duplicate timestamps, a
  stream that starts mid-GOP, MPEG-4 Part 2 with DivX-style packed B-frames): one sequential
  decode records every output frame's timestamp and a checksum of its luma, once; the result is
  cached. A reader that seeks checks every frame it delivers against that checksum.

Frames are identified after a seek by the timestamp the decoder gives them (``pts``); when those
are missing or not unique, only decoding from the start is exact (``identity="count"``).
The cache is keyed by the file's path and invalidated when its size, mtime or head/tail bytes
change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .container import av_error, decoded_frames, open_video

INDEX_VERSION = 5

#: FFmpeg demuxers whose packets carry presentation timestamps of their own
PTS_CONTAINERS = frozenset(
    {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts", "flv", "nut", "ogg", "mxf", "gxf", "dv"}
)
#: codecs whose bitstreams may pack several pictures into one packet (DivX/Xvid packed B-frames):
#: the decoder's output order cannot be read from packet timestamps
PACKING_CODECS = frozenset({"mpeg4"})
#: codecs that never reorder frames (no B-frames): packets come out in file order, so even a
#: container without presentation timestamps (AVI) gives the output order
NO_REORDER_CODECS = frozenset(
    {
        "mjpeg",
        "msmpeg4v1",
        "msmpeg4v2",
        "msmpeg4v3",
        "msmpeg4",
        "wmv1",
        "wmv2",
        "h261",
        "flv1",
        "rawvideo",
        "png",
        "huffyuv",
        "ffvhuff",
        "ffv1",
        "dvvideo",
        "prores",
        "dnxhd",
        "utvideo",
        "cinepak",
        "msvideo1",
    }
)
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


def cache_dir() -> Path:
    """``SMOLPLUG_CACHE_DIR``, else ``$XDG_CACHE_HOME/smolplug``, else ``~/.cache/smolplug``."""
    env = os.environ.get("SMOLPLUG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smolplug"


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


# -- display orientation ----------------------------------------------------------------------
def display_matrix(frame: Any) -> np.ndarray | None:
    """The frame's display matrix (FFmpeg's 9 int32s), or None when it has none."""
    from av.sidedata.sidedata import Type

    for sd in frame.side_data:
        if sd.type == Type.DISPLAYMATRIX:
            return np.frombuffer(bytes(sd), np.int32)
    return None


def orientation_of(frame: Any) -> int:
    """The EXIF orientation (1..8) equivalent to a frame's display matrix, as FFmpeg's
    ``autorotate`` applies it (rotations by multiples of 90 degrees and their mirror images;
    any other angle is left alone: 1)."""
    m = display_matrix(frame)
    if m is None:
        return 1
    theta = -float(frame.rotation)
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return 5 if m[3] > 0 else 6
    if abs(theta - 180) < 1:
        h, v = m[0] < 0, m[4] < 0
        return 3 if h and v else 2 if h else 4 if v else 1
    if abs(theta - 270) < 1:
        return 7 if m[3] < 0 else 8
    if abs(theta) < 1 and m[4] < 0:
        return 4
    return 1


# -- building ---------------------------------------------------------------------------------
@dataclass
class _Packets:
    pts: list[int | None] = field(default_factory=list)
    key: list[bool] = field(default_factory=list)
    discard: list[bool] = field(default_factory=list)  #: no frame comes out (edit list, hidden frame)
    pos: list[int] = field(default_factory=list)  #: byte offset in the file (-1: unknown)


def _demux(container: Any, stream: Any) -> _Packets:
    import av

    pk = _Packets()
    codec = stream.codec_context.name
    vpx = codec in ("vp8", "vp9")
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            pk.pts.append(None if packet.pts is None else int(packet.pts))
            pk.key.append(bool(packet.is_keyframe))
            pk.pos.append(-1 if packet.pos is None else int(packet.pos))
            pk.discard.append(bool(packet.is_discard) or (vpx and not _vpx_shows(codec, memoryview(packet))))
    except av.error.FFmpegError:  # a truncated/corrupt tail: index what was readable
        pass
    except IndexError:  # PyAV's end-of-stream flush fails when damage made the demuxer add streams
        pass
    return pk


def _vpx_shows(codec: str, data: memoryview) -> bool:
    """Does a VP8/VP9 packet show a frame? Hidden frames (alt-ref, golden updates) are decoded
    but never output; VP9 packs them with a shown frame into a superframe, VP8 cannot."""
    if len(data) < 1:
        return False
    if codec == "vp8":
        return bool(data[0] & 0x10)  # frame tag: show_frame bit
    frames = [data]
    marker = data[-1]
    if marker & 0xE0 == 0xC0:  # superframe index at the end
        n, size_bytes = (marker & 7) + 1, ((marker >> 3) & 3) + 1
        index_len = 2 + size_bytes * n
        if len(data) >= index_len and data[-index_len] == marker:
            frames, at = [], 0
            for k in range(n):
                o = len(data) - index_len + 1 + k * size_bytes
                size = int.from_bytes(data[o : o + size_bytes], "little")
                frames.append(data[at : at + size])
                at += size
    for f in frames:
        if len(f) < 1:
            continue
        b = f[0]
        if b >> 6 != 2:  # frame_marker
            return True  # not a header we read: assume it shows
        profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1)
        bit = 3 if profile < 3 else 2  # the next bit: show_existing_frame (after reserved_zero)
        if (b >> bit) & 1:
            return True  # show_existing_frame
        if (b >> (bit - 2)) & 1:  # frame_type, then show_frame
            return True
    return False


def _untrusted(fmt: str, codec: str, pk: _Packets) -> str:
    """Why the packets' timestamps cannot stand for the decoder's output order ("" if they can)."""
    if codec in PACKING_CODECS:
        return f"{codec} streams may pack several pictures per packet (DivX/Xvid packed B-frames)"
    if fmt not in PTS_CONTAINERS and codec not in NO_REORDER_CODECS:
        return f"the {fmt} container stores no presentation timestamps of its own"
    if not pk.pts:
        return ""
    if any(t is None for t in pk.pts):
        return "packets without timestamps"
    kept = [t for t, d in zip(pk.pts, pk.discard, strict=True) if not d]
    if len(set(kept)) != len(kept):
        return "duplicate timestamps"
    if not pk.key[0]:
        return "the stream does not start with a keyframe"
    return ""


def _closed(pts_decode_order: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Keyframes usable as exact seek points: no later packet (in decode order) shows an earlier
    frame. A keyframe with such "leading" pictures opens an open GOP (x265's default CRA, x264's
    open-gop): after a seek the decoder lacks their references, and trailing frames were seen to
    differ from a sequential decode, so only closed keyframes are used."""
    closed = key.copy()
    n = len(pts_decode_order)
    positions = np.flatnonzero(key)
    for j, start in enumerate(positions):
        end = positions[j + 1] if j + 1 < len(positions) else n
        if end > start + 1 and pts_decode_order[start + 1 : end].min() < pts_decode_order[start]:
            closed[start] = False
    return closed


def _reorder_depth(pts_decode_order: np.ndarray) -> int:
    """The most frames a decoder outputs after a frame and before an earlier-decoded one."""
    if len(pts_decode_order) < 2:
        return 0
    order = np.argsort(np.argsort(pts_decode_order, kind="stable"), kind="stable")  # output position
    return int(max(0, np.max(np.maximum.accumulate(order) - order)))


def luma_crc(frame: Any) -> int:
    """CRC-32 of the visible bytes of the frame's first plane (-1 for formats not covered)."""
    from .. import _binding as native

    if frame.format.name not in native.PIX_FORMATS:
        return -1
    plane = frame.planes[0]
    row = frame.width * (3 if frame.format.name == "rgb24" else 1)
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, :row]
    return zlib.crc32(np.ascontiguousarray(rows))


def _first_frame(container: Any, stream: Any) -> Any:
    """The first frame the stream decodes to (None when none does)."""
    import av

    try:
        for frame in decoded_frames(container, stream):
            return frame
    except av.error.FFmpegError:
        return None
    return None


def build_index(path: str | os.PathLike[str]) -> VideoIndex:
    """Index the first video stream of ``path``: demux every packet, and decode the stream once
    when its timestamps cannot be trusted (see the module docstring)."""
    import av

    fp = fingerprint(path)
    with open_video(path) as container:
        stream = container.streams.video[0]
        fmt = container.format.name
        cc = stream.codec_context
        codec, has_b = cc.name, bool(cc.has_b_frames)
        pk = _demux(container, stream)
        note = _untrusted(fmt, codec, pk)
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first = _first_frame(container, stream)
        if first is None and pk.pts and not note:
            note = "no frame decodes: frames are the packets, and a reader reports each one's errors"
        orientation = orientation_of(first) if first is not None else 1
        width = first.width if first is not None else cc.width
        height = first.height if first is not None else cc.height
        pix_fmt = first.format.name if first is not None else (cc.pix_fmt or "")
        base = dict(
            path=str(Path(path).resolve()),
            fingerprint=fp,
            codec=codec,
            width=width,
            height=height,
            pix_fmt=pix_fmt,
            time_base=Fraction(stream.time_base or Fraction(1, 1)),
            has_b_frames=has_b,
            orientation=orientation,
        )
    if not note or first is None:
        return _from_packets(pk, base, note)
    try:
        return _from_decode(path, pk, base, note)
    except av.error.FFmpegError as exc:
        raise av_error(path, exc, "cannot decode") from exc


def _from_packets(pk: _Packets, base: dict, note: str = "") -> VideoIndex:
    if any(t is None for t in pk.pts):  # nothing better to go by than the packets' order
        pk = dataclasses.replace(pk, pts=list(range(len(pk.pts))))
    pts_dec = np.asarray(pk.pts, np.int64)
    key_dec = np.asarray(pk.key, bool)
    keep = ~np.asarray(pk.discard, bool)
    closed_dec = _closed(pts_dec, key_dec)
    order = np.argsort(pts_dec, kind="stable")
    order = order[keep[order]]
    pts = pts_dec[order]
    closed = closed_dec[order]
    key = closed | key_dec[order] if base["codec"] in NONREF_B_CODECS else closed.copy()
    if len(key):
        key[0] = True  # decoding from the start of the file always works
    return VideoIndex(
        pts=pts,
        keyframe=key,
        closed=closed,
        pos=np.asarray(pk.pos, np.int64)[order],
        flagged=key_dec[order],
        reorder=_reorder_depth(pts_dec[keep]),
        note=note,
        identity="count" if note else "pts",
        **base,
    )


def _from_decode(path: str | os.PathLike[str], pk: _Packets, base: dict, note: str) -> VideoIndex:
    """One sequential decode: the frames in output order, their timestamps and luma CRCs."""
    import av

    keys: list[int | None] = []
    crcs: list[int] = []
    flags: list[bool] = []
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        try:
            for frame in decoded_frames(container, stream):
                keys.append(None if frame.pts is None else int(frame.pts))
                crcs.append(luma_crc(frame))
                flags.append(bool(frame.key_frame))
        except av.error.FFmpegError:
            pass  # a damaged tail: the frames a sequential decode outputs are those before it
    n = len(keys)
    unique = all(k is not None for k in keys) and len(set(keys)) == n
    tb = base["time_base"]
    pts = np.asarray([k if k is not None else -1 for k in keys], np.int64)
    if unique and n > 1 and np.all(np.diff(pts) > 0):
        seconds = pts.astype(np.float64) * float(tb)
    else:
        t0 = float(pts[0] * tb) if n and keys[0] is not None else 0.0
        seconds = t0 + np.arange(n, dtype=np.float64) / float(rate)
    keyframe = np.zeros(n, bool)
    closed = np.zeros(n, bool)
    reorder = max(int(base["has_b_frames"]), 2)
    if unique:
        # seek points: keyframe packets whose frame came out (a reader verifies every frame it
        # decodes after a seek against its CRC, and drops a seek point that gives another frame)
        pos = {k: i for i, k in enumerate(keys)}
        pts_dec = np.asarray([t if t is not None else np.iinfo(np.int64).min for t in pk.pts], np.int64)
        closed_dec = _closed(pts_dec, np.asarray(pk.key, bool)) if len(pts_dec) else np.zeros(0, bool)
        for t, k, c in zip(pk.pts, pk.key, closed_dec, strict=True):
            if k and t is not None and t in pos:
                keyframe[pos[t]] = True
                closed[pos[t]] = bool(c)
        if len(pts_dec):
            reorder = max(reorder, _reorder_depth(pts_dec))
    else:
        note += "; frames have no unique timestamps: exact only when decoded from the start"
    if n:
        keyframe[0] = True
    return VideoIndex(
        pts=pts,
        keyframe=keyframe,
        closed=closed,
        flagged=np.asarray(flags, bool),
        timing="decoded",
        identity="pts" if unique else "count",
        note=note,
        seconds=seconds,
        crc=np.asarray(crcs, np.int64),
        reorder=reorder,
        **base,
    )


# -- cache ------------------------------------------------------------------------------------
def _cache_file(path: str | os.PathLike[str], directory: Path) -> Path:
    key = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()
    return directory / f"{key}.index.json"


def load_index(path: str | os.PathLike[str], cache: Path | str | None | bool = None) -> VideoIndex:
    """The index of ``path``, from the cache when still valid, else built and cached.

    :param cache: a directory, None for :func:`cache_dir`, or False to bypass the cache.
    :raises FileNotFoundError: ``path`` does not exist.
    :raises DecodeError: a subclass saying why the file cannot be read as a video.
    """
    if cache is False:
        return build_index(path)
    from .container import check_path

    check_path(path)
    directory = Path(cache) if cache else cache_dir()
    f = _cache_file(path, directory)
    fp = fingerprint(path)
    try:
        data = json.loads(f.read_text())
        if data.get("version") == INDEX_VERSION and data.get("fingerprint") == fp:
            return VideoIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    index = build_index(path)
    save_index(index, cache)
    return index


def save_index(index: VideoIndex, cache: Path | str | None | bool = None) -> None:
    """Write ``index`` to the cache (atomically; a read-only cache is not an error)."""
    if cache is False:
        return
    directory = Path(cache) if cache else cache_dir()
    f = _cache_file(index.path, directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index.to_json()))
        tmp.replace(f)  # atomic: concurrent readers never see half a file
    except OSError:
        pass
