"""Building, caching and loading a video's frame index (:class:`~smolplug.video.index.VideoIndex`).

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
import threading
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import cache_dir
from .container import av_error, decoded_frames, open_video, orientation_of
from .index import INDEX_VERSION, NONREF_B_CODECS, VideoIndex, fingerprint
from .packets import Packets, closed_keyframes, demux, reorder_depth, untrusted


# -- building ---------------------------------------------------------------------------------
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
        pk = demux(container, stream)
        note = untrusted(fmt, codec, pk)
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


def _from_packets(pk: Packets, base: dict, note: str = "") -> VideoIndex:
    if any(t is None for t in pk.pts):  # nothing better to go by than the packets' order
        pk = dataclasses.replace(pk, pts=list(range(len(pk.pts))))
    pts_dec = np.asarray(pk.pts, np.int64)
    key_dec = np.asarray(pk.key, bool)
    keep = ~np.asarray(pk.discard, bool)
    closed_dec = closed_keyframes(pts_dec, key_dec)
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
        reorder=reorder_depth(pts_dec[keep]),
        note=note,
        identity="count" if note else "pts",
        **base,
    )


def _from_decode(path: str | os.PathLike[str], pk: Packets, base: dict, note: str) -> VideoIndex:
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
        closed_dec = (
            closed_keyframes(pts_dec, np.asarray(pk.key, bool)) if len(pts_dec) else np.zeros(0, bool)
        )
        for t, k, c in zip(pk.pts, pk.key, closed_dec, strict=True):
            if k and t is not None and t in pos:
                keyframe[pos[t]] = True
                closed[pos[t]] = bool(c)
        if len(pts_dec):
            reorder = max(reorder, reorder_depth(pts_dec))
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
        tmp = f.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(index.to_json()))
        tmp.replace(f)  # atomic: concurrent readers never see half a file
    except OSError:
        pass
