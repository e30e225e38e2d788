"""What the demuxer alone tells about a video's frames (no decoding): packet timestamps, keyframe
flags, frames that never come out, byte offsets; and whether those timestamps can be trusted to
give the decoder's output order (:func:`untrusted`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


@dataclass
class Packets:
    pts: list[int | None] = field(default_factory=list)
    key: list[bool] = field(default_factory=list)
    discard: list[bool] = field(default_factory=list)  #: no frame comes out (edit list, hidden frame)
    pos: list[int] = field(default_factory=list)  #: byte offset in the file (-1: unknown)


def demux(container: Any, stream: Any) -> Packets:
    import av

    pk = Packets()
    codec = stream.codec_context.name
    vpx = codec in ("vp8", "vp9")
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            pk.pts.append(None if packet.pts is None else int(packet.pts))
            pk.key.append(bool(packet.is_keyframe))
            pk.pos.append(-1 if packet.pos is None else int(packet.pos))
            pk.discard.append(bool(packet.is_discard) or (vpx and not vpx_shows(codec, memoryview(packet))))
    except av.error.FFmpegError:  # a truncated/corrupt tail: index what was readable
        pass
    except IndexError:  # PyAV's end-of-stream flush fails when damage made the demuxer add streams
        pass
    return pk


def vpx_shows(codec: str, data: memoryview) -> bool:
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


def untrusted(fmt: str, codec: str, pk: Packets) -> str:
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


def closed_keyframes(pts_decode_order: np.ndarray, key: np.ndarray) -> np.ndarray:
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


def reorder_depth(pts_decode_order: np.ndarray) -> int:
    """The most frames a decoder outputs after a frame and before an earlier-decoded one."""
    if len(pts_decode_order) < 2:
        return 0
    order = np.argsort(np.argsort(pts_decode_order, kind="stable"), kind="stable")  # output position
    return int(max(0, np.max(np.maximum.accumulate(order) - order)))
