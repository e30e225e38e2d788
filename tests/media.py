"""A broad generated video corpus and the reference a video reader is judged against.

Every clip is small (about 30-60 frames of 64-192 px), deterministic and generated at test time
with PyAV's encoders and muxers. Where no muxer writes a layout found in the wild, the layout is
made by rewriting packets or container bytes in Python (each generator says how):

- ``mpeg4-packed.avi``: DivX/Xvid "packed B-frames" (a P-VOP and the following B-VOP in one AVI
  chunk, N-VOP placeholder chunks, the ``DivX503b1393p`` user data);
- ``*-no-pts.ts`` / ``*-some-pts.ts``: MPEG-TS PES headers without PTS/DTS;
- ``vp8-hidden.webm``: VP8 frames whose ``show_frame`` bit is cleared (they decode and serve as
  references, as alt-ref frames do, but output nothing): packets without a frame;
- ``vp9-hidden.webm``: the same for VP9 (header rewritten), which the WebM muxer stores in
  superframes;
- ``*-cut.*``: the leading packets dropped, so the stream starts mid-GOP;
- ``*-dup-ts.mkv``: packets remuxed with repeated timestamps.

The reference is a plain sequential decode, ``for frame in container.decode(video=0)``: frame
*i* is the i-th frame it outputs (:func:`sequential_frames`, :func:`sequential_rgb`).

``python -m tests.media [DIR]`` builds the corpus and prints, per clip, how the sequential decode,
OpenCV and decord count and order its frames.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .clips import make_clip

#: frames per clip unless a clip says otherwise
N_FRAMES = 48


# -- the sequential reference ----------------------------------------------------------------------
@dataclass(frozen=True)
class SequentialDecode:
    """Frames of ``container.decode(video=0)`` in output order: position i is frame i."""

    planes: list[list[np.ndarray]]  #: raw planes of each frame (visible bytes of each row, read-only)
    pts: list[int | None]  #: each frame's pts as the decoder output it
    rotation: list[int]  #: each frame's display rotation (degrees counter-clockwise)
    pix_fmt: str

    def __len__(self) -> int:
        return len(self.planes)


def frame_planes(frame: Any) -> list[np.ndarray]:
    """The planes of an ``av.VideoFrame`` as uint8 arrays without the rows' alignment padding."""
    comps = frame.format.components
    out = []
    for k, plane in enumerate(frame.planes):
        row = sum(math.ceil(c.bits / 8) * c.width for c in comps if c.plane == k)
        arr = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height, :row].copy()
        arr.flags.writeable = False
        out.append(arr)
    return out


def _stamp(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns


@functools.cache
def _sequential(key: tuple[str, int, int]) -> SequentialDecode:
    import av

    planes, pts, rotation = [], [], []
    pix_fmt = ""
    with av.open(key[0]) as container:
        for frame in container.decode(video=0):
            planes.append(frame_planes(frame))
            pts.append(None if frame.pts is None else int(frame.pts))
            rotation.append(int(frame.rotation))
            pix_fmt = frame.format.name
    return SequentialDecode(planes, pts, rotation, pix_fmt)


def sequential_frames(path: str | os.PathLike[str]) -> SequentialDecode:
    """Raw planes, pts and rotation of every frame of a plain sequential decode (cached per file
    version: the same path rewritten is decoded again)."""
    return _sequential(_stamp(path))


def display_rotate(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` (H, W, C) turned into display orientation: ``rotation`` is counter-clockwise, as
    ``av.VideoFrame.rotation`` reports it (90, -90, -180, ...) and as OpenCV applies it."""
    if rotation % 90:
        raise ValueError(f"rotation {rotation} is not a multiple of 90 degrees")
    return np.ascontiguousarray(np.rot90(rgb, (rotation // 90) % 4))


@functools.cache
def _sequential_rgb(key: tuple[str, int, int], display: bool) -> list[np.ndarray]:
    import av

    out = []
    with av.open(key[0]) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(
                format="rgb24", src_colorspace=frame.colorspace, src_color_range=frame.color_range
            )
            if display:
                rgb = display_rotate(rgb, int(frame.rotation))
            rgb.flags.writeable = False
            out.append(rgb)
    return out


def sequential_rgb(path: str | os.PathLike[str], display: bool = True) -> list[np.ndarray]:
    """Every frame of a sequential decode as uint8 RGB (H, W, 3), converted by FFmpeg with the
    frame's own colour metadata, in display orientation when ``display``: exactly what a
    full-size uint8 RGB NHWC request with ``scale_headroom=inf`` must return."""
    return _sequential_rgb(_stamp(path), display)


def identify(planes: Sequence[np.ndarray], ref: SequentialDecode) -> list[int]:
    """Positions of the sequential frames whose planes equal ``planes`` (for failure messages)."""
    return [
        j
        for j, want in enumerate(ref.planes)
        if len(want) == len(planes) and all(np.array_equal(a, b) for a, b in zip(planes, want, strict=True))
    ]


@dataclass(frozen=True)
class PacketInfo:
    pts: int | None
    dts: int | None
    keyframe: bool
    discard: bool
    size: int


def packets(path: str | os.PathLike[str]) -> list[PacketInfo]:
    """The video stream's packets in file (decode) order, without decoding; flush packets left out."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            PacketInfo(p.pts, p.dts, bool(p.is_keyframe), bool(p.is_discard), p.size)
            for p in container.demux(stream)
            if p.size
        ]


# -- damaged files ---------------------------------------------------------------------------------
def overwrite_middle(src: Path, dst: Path, kib: int = 4, seed: int = 0) -> Path:
    """A copy of ``src`` with ``kib`` KiB of seeded random bytes written over its middle."""
    data = bytearray(src.read_bytes())
    n = min(kib * 1024, len(data))
    start = (len(data) - n) // 2
    data[start : start + n] = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def scatter_bytes(src: Path, dst: Path, n: int = 64, seed: int = 0) -> Path:
    """A copy of ``src`` with ``n`` bytes at seeded random positions (past the first 512, which
    hold the container header) replaced by random values."""
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    lo = min(512, len(data) - 1)
    for pos, value in zip(rng.integers(lo, len(data), n), rng.integers(0, 256, n), strict=True):
        data[int(pos)] = int(value)
    dst.write_bytes(bytes(data))
    return dst


def truncate(src: Path, dst: Path, fraction: float = 0.6) -> Path:
    """The first ``fraction`` of ``src``'s bytes."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def empty_file(dst: Path) -> Path:
    dst.write_bytes(b"")
    return dst


def garbage_file(dst: Path, size: int = 64 * 1024, seed: int = 0) -> Path:
    """Seeded random bytes (give it a video extension: the reader must not be fooled by it)."""
    dst.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return dst


CORRUPTIONS: dict[str, Callable[[Path, Path], Path]] = {
    "overwrite-middle": overwrite_middle,
    "scatter": scatter_bytes,
    "truncate": truncate,
}


# -- packet and byte rewriting ---------------------------------------------------------------------
def remux(
    src: Path,
    dst: Path,
    edit: Callable[[int, Any], Any] = lambda i, p: p,
    container_format: str | None = None,
) -> Path:
    """Copy ``src``'s video packets into ``dst``; ``edit(i, packet)`` may change packet i (decode
    order) or return None to drop it."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=container_format) as out:
        stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(stream)
        for i, packet in enumerate(p for p in inp.demux(stream) if p.size):
            packet = edit(i, packet)
            if packet is not None:
                packet.stream = out_stream
                out.mux(packet)
    return dst


def _with_bytes(packet: Any, data: bytes) -> Any:
    import av

    new = av.Packet(data)
    new.pts, new.dts, new.time_base = packet.pts, packet.dts, packet.time_base
    new.is_keyframe = packet.is_keyframe
    return new


def _intermediate(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.stem}.src{suffix}")


class _BitReader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value


def _start_codes(data: bytes) -> list[int]:
    return [i for i in range(len(data) - 3) if data[i : i + 3] == b"\0\0\1"]


def _mpeg4_time_increment_bits(headers: bytes) -> int:
    """vop_time_increment's width, from the VOL header's vop_time_increment_resolution
    (ISO/IEC 14496-2 6.2.3: video_object_layer up to that field)."""
    vol = next(i for i in _start_codes(headers) if 0x20 <= headers[i + 3] <= 0x2F)
    r = _BitReader(headers, (vol + 4) * 8)
    r.read(1 + 8)  # random_accessible_vol, video_object_type_indication
    verid = 1
    if r.read(1):  # is_object_layer_identifier
        verid = r.read(4)
        r.read(3)
    if r.read(4) == 15:  # aspect_ratio_info: extended PAR
        r.read(16)
    if r.read(1):  # vol_control_parameters
        r.read(3)  # chroma_format, low_delay
        if r.read(1):  # vbv_parameters
            r.read(79)
    shape = r.read(2)
    if shape == 3 and verid != 1:
        r.read(4)
    if r.read(1) != 1:
        raise ValueError("VOL header: marker bit missing before vop_time_increment_resolution")
    resolution = r.read(16)
    return max((resolution - 1).bit_length(), 1)


def _vop_type(data: bytes) -> str:
    i = data.index(b"\0\0\1\xb6")
    return "IPBS"[data[i + 4] >> 6]


def _n_vop(vop: bytes, time_bits: int) -> bytes:
    """A not-coded P-VOP (vop_coded = 0) with ``vop``'s time fields: the placeholder a packed
    bitstream puts where the packed P-frame is displayed."""
    start = vop.index(b"\0\0\1\xb6") + 4
    r = _BitReader(vop, start * 8)
    r.read(2)
    while r.read(1):  # modulo_time_base
        pass
    r.read(1 + time_bits + 1)  # marker, vop_time_increment, marker
    bits = [(vop[start + k // 8] >> (7 - k % 8)) & 1 for k in range(r.pos - start * 8)]
    bits[0:2] = [0, 1]  # vop_coding_type P
    bits.append(0)  # vop_coded
    bits.append(0)  # next_start_code(): a zero, then ones to the byte boundary
    bits += [1] * (-len(bits) % 8)
    return b"\0\0\1\xb6" + bytes(int("".join(map(str, bits[k : k + 8])), 2) for k in range(0, len(bits), 8))


DIVX_PACKED_USER_DATA = b"\0\0\1\xb2DivX503b1393p"  # "p": packed bitstream (FFmpeg: divx_packed)


def _divx_user_data(headers: bytes) -> bytes:
    """``headers`` with its user data (Lavc's) replaced by DivX 5.03's, right after the VOL."""
    codes = _start_codes(headers) + [len(headers)]
    out = headers[: codes[0]]
    for a, b in zip(codes, codes[1:], strict=False):
        segment = headers[a:b]
        if segment[3] == 0xB2:
            continue
        out += segment
        if 0x20 <= segment[3] <= 0x2F:
            out += DIVX_PACKED_USER_DATA
    return out


def make_packed_mpeg4_avi(path: Path, **clip: Any) -> Path:
    """MPEG-4 Part 2 with B-frames in AVI as DivX 5 / Xvid write it ("packed bitstream").

    FFmpeg's encoder writes one VOP per AVI chunk in decode order (I0 P3 B1 B2 ...); the AVI
    then has one chunk per frame time and the decoder delays output. A packed stream instead has
    each chunk decode to the frame displayed at its time: a reference VOP and the first B-VOP after
    it share a chunk (``P3+B1``), the other B-VOPs follow one per chunk (``B2``), and a not-coded
    N-VOP takes the slot where the reference is displayed (``N``). The ``DivX503b1393p`` user data
    (in the VOL header of the extradata and the first chunk) makes FFmpeg's decoder unpack it, as
    it does for such files in the wild; its output timestamps then come out of order.
    """
    import av

    src = make_clip(_intermediate(path, ".avi"), codec="mpeg4", **clip)
    try:
        with av.open(str(src)) as inp:
            stream = inp.streams.video[0]
            headers = bytes(stream.codec_context.extradata)
            time_base = stream.time_base
            vops = [(bytes(p), bool(p.is_keyframe)) for p in inp.demux(stream) if p.size]
        time_bits = _mpeg4_time_increment_bits(headers)
        types = [_vop_type(v) for v, _ in vops]
        chunks: list[tuple[bytes, bool]] = []
        j = 0
        while j < len(vops):
            vop, key = vops[j]
            if types[j] in "IP" and j + 1 < len(vops) and types[j + 1] == "B":
                chunks.append((vop + vops[j + 1][0], key))
                j += 2
                while j < len(vops) and types[j] == "B":
                    chunks.append((vops[j][0], False))
                    j += 1
                chunks.append((_n_vop(vop, time_bits), False))
            else:
                chunks.append((vop, key))
                j += 1
        chunks[0] = (_divx_user_data(chunks[0][0]), chunks[0][1])
        with av.open(str(src)) as inp, av.open(str(path), "w") as out:
            out_stream = out.add_stream_from_template(inp.streams.video[0])
            out_stream.codec_context.extradata = _divx_user_data(headers)
            for k, (data, key) in enumerate(chunks):  # chunk k is the frame displayed at time k
                packet = av.Packet(data)
                packet.pts = packet.dts = k
                packet.time_base = time_base
                packet.is_keyframe = key
                packet.stream = out_stream
                out.mux(packet)
    finally:
        src.unlink(missing_ok=True)
    return path


def strip_ts_timestamps(src: Path, dst: Path, strip: Callable[[int], bool]) -> Path:
    """Copy an MPEG-TS file, removing PTS/DTS from the video PES headers whose index k (file
    order) satisfies ``strip(k)``: PTS_DTS_flags is set to 0 and the 5/10 timestamp bytes
    become stuffing bytes (0xFF, allowed in a PES header), so every TS packet keeps its size. The
    muxer cannot write this: FFmpeg fills in a missing pts itself."""
    data = bytearray(src.read_bytes())
    if len(data) % 188:
        raise ValueError(f"{src}: not a 188-byte-packet MPEG-TS file")
    k = 0
    for off in range(0, len(data), 188):
        if data[off] != 0x47:
            raise ValueError(f"{src}: lost TS sync at byte {off}")
        payload_start, adaptation = data[off + 1] & 0x40, (data[off + 3] >> 4) & 3
        if not payload_start or not adaptation & 1:
            continue
        p = off + 4 + (1 + data[off + 4] if adaptation & 2 else 0)
        if data[p : p + 3] != b"\0\0\1" or not 0xE0 <= data[p + 3] <= 0xEF:
            continue  # not the start of a video PES
        flags = data[p + 7]
        if flags & 0x3F:
            raise ValueError("PES header has optional fields after PTS/DTS: cannot stuff them in place")
        if strip(k):
            n = {0: 0, 2: 5, 3: 10}[flags >> 6]
            data[p + 7] = flags & 0x3F
            data[p + 9 : p + 9 + n] = b"\xff" * n
        k += 1
    dst.write_bytes(bytes(data))
    return dst


def make_no_pts_ts(path: Path, strip: Callable[[int], bool], **clip: Any) -> Path:
    """An MPEG-TS clip whose video PES ``k`` lose their timestamps where ``strip(k)``. FFmpeg's
    demuxer then returns those packets with pts = dts = None (nothing is interpolated), and the
    decoder outputs frames with pts None: all of them when every PES is stripped; with every other
    one stripped, about half the frames, not in any regular pattern (B-frame reordering)."""
    src = make_clip(_intermediate(path, ".ts"), **clip)
    try:
        return strip_ts_timestamps(src, path, strip)
    finally:
        src.unlink(missing_ok=True)


def make_cut(path: Path, drop: int, **clip: Any) -> Path:
    """The clip without its first ``drop`` packets (decode order): it starts mid-GOP."""
    src = make_clip(_intermediate(path, path.suffix), **clip)
    try:
        return remux(src, path, lambda i, p: None if i < drop else p)
    finally:
        src.unlink(missing_ok=True)


def make_dup_ts(path: Path, every: int = 4, **clip: Any) -> Path:
    """Every ``every``-th packet (from the ``every``-th on) repeats its predecessor's timestamp,
    and later ones shift back to keep the spacing (a stream without B-frames: pts = dts). The
    Matroska muxer accepts equal timestamps."""
    src = make_clip(_intermediate(path, path.suffix), bframes=0, **clip)
    try:
        with_pts = [p.pts for p in packets(src)]
        step = with_pts[1] - with_pts[0]

        def edit(i: int, packet: Any) -> Any:
            packet.pts = packet.dts = with_pts[0] + (i - i // every) * step
            return packet

        return remux(src, path, edit)
    finally:
        src.unlink(missing_ok=True)


def make_vp8_hidden(path: Path, hide: Sequence[int], **clip: Any) -> Path:
    """VP8 in WebM whose packets ``hide`` (inter frames) have show_frame cleared (bit 4 of the
    frame tag, which nothing else in the header depends on): the decoder decodes them and later
    frames predict from them, as from an alt-ref frame, but they output nothing."""
    src = make_clip(_intermediate(path, ".webm"), codec="libvpx", bframes=0, **clip)
    hidden = set(hide)

    def edit(i: int, packet: Any) -> Any:
        if i not in hidden:
            return packet
        data = bytearray(bytes(packet))
        if not data[0] & 1:
            raise ValueError(f"packet {i} is a keyframe: hide an inter frame")
        data[0] &= ~0x10
        return _with_bytes(packet, bytes(data))

    try:
        return remux(src, path, edit)
    finally:
        src.unlink(missing_ok=True)


def _vp9_inter_header_bits(data: bytes, width: int) -> int:
    """Length in bits of a VP9 profile-0 error-resilient inter frame's uncompressed header up to
    header_size_in_bytes (VP9 bitstream spec 6.2), before its trailing alignment bits."""
    r = _BitReader(data)
    if r.read(2) != 2 or r.read(2) != 0 or r.read(1) != 0:
        raise ValueError("not a profile-0 VP9 frame (or a show_existing_frame)")
    frame_type, _show, error_resilient = r.read(1), r.read(1), r.read(1)
    if frame_type != 1 or error_resilient != 1:
        raise ValueError("expected an error-resilient inter frame")
    r.read(8 + 3 * 4)  # refresh_frame_flags, 3 x (ref_frame_idx, sign_bias)
    if not any(r.read(1) for _ in range(3)):  # found_ref: stops at the first set bit
        r.read(32)  # frame_size
    if r.read(1):  # render_and_frame_size_different
        r.read(32)
    r.read(1)  # allow_high_precision_mv
    if not r.read(1):  # is_filter_switchable
        r.read(2)
    r.read(2 + 6 + 3)  # frame_context_idx, loop_filter_level, loop_filter_sharpness
    if r.read(1) and r.read(1):  # loop_filter_delta_enabled, loop_filter_delta_update
        for _ in range(4 + 2):
            if r.read(1):
                r.read(7)  # su(6)
    r.read(8)  # base_q_idx
    for _ in range(3):
        if r.read(1):
            r.read(5)  # su(4)
    if r.read(1):  # segmentation_enabled
        if r.read(1):  # update_map
            for _ in range(7):
                if r.read(1):
                    r.read(8)
            if r.read(1):  # temporal_update
                for _ in range(3):
                    if r.read(1):
                        r.read(8)
        if r.read(1):  # update_data
            r.read(1)
            for _ in range(8):
                for bits in (8 + 1, 6 + 1, 2, 0):  # feature value (+ sign)
                    if r.read(1):
                        r.read(bits)
    sb64_cols = (((width + 7) >> 3) + 7) >> 3
    min_log2 = 0
    while (64 << min_log2) < sb64_cols:
        min_log2 += 1
    max_log2 = 1
    while (sb64_cols >> max_log2) >= 4:
        max_log2 += 1
    for _ in range(min_log2, max_log2 - 1):  # increment_tile_cols_log2 until a 0
        if not r.read(1):
            break
    if r.read(1):  # tile_rows_log2
        r.read(1)
    r.read(16)  # header_size_in_bytes
    return r.pos


def _vp9_hidden(data: bytes, width: int) -> bytes:
    """The same frame with show_frame = 0: its header gains the intra_only bit (0) that hidden
    inter frames carry, and is re-padded to a byte boundary."""
    end = _vp9_inter_header_bits(data, width)
    bits = [(data[k // 8] >> (7 - k % 8)) & 1 for k in range(end)]
    bits[6] = 0  # show_frame
    bits.insert(8, 0)  # intra_only, right after error_resilient_mode
    bits += [0] * (-len(bits) % 8)
    head = bytes(int("".join(map(str, bits[k : k + 8])), 2) for k in range(0, len(bits), 8))
    return head + data[(end + 7) // 8 :]


def vp9_frames_in_packet(data: bytes) -> int:
    """Frames in a VP9 packet: more than one when a superframe index ends it (spec Annex B)."""
    marker = data[-1]
    if marker & 0xE0 != 0xC0:
        return 1
    frames = (marker & 7) + 1
    size = 2 + (((marker >> 3) & 3) + 1) * frames
    return frames if len(data) >= size and data[-size] == marker else 1


def make_vp9_hidden(path: Path, hide: Sequence[int], w: int = 160, **clip: Any) -> Path:
    """VP9 in WebM with hidden frames, stored as alt-ref frames are: libvpx's one-pass mode writes
    none, so inter frames ``hide`` get show_frame = 0 (error-resilient encoding: no frame
    predicts motion vectors from its predecessor, so hiding one leaves the others intact).
    FFmpeg's WebM muxer then packs each hidden frame with the next frame into a superframe, so
    every packet still outputs one frame: the file has ``len(hide)`` frames fewer than encoded."""
    options = {"deadline": "good", "cpu-used": "8", "b": "400k", "error-resilient": "1", "lag-in-frames": "0"}
    src = make_clip(_intermediate(path, ".webm"), codec="libvpx-vp9", w=w, bframes=0, options=options, **clip)
    hidden = set(hide)
    try:
        return remux(src, path, lambda i, p: _with_bytes(p, _vp9_hidden(bytes(p), w)) if i in hidden else p)
    finally:
        src.unlink(missing_ok=True)


# -- the corpus ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    name: str  #: file name; its extension picks the container
    make: Callable[[Path], Any]  #: writes the clip to the given path
    note: str  #: what makes it special
    rotation: int = 0  #: display rotation of its frames (degrees counter-clockwise, frame.rotation)
    #: asserts that the generated file has the property the clip exists for
    check: Callable[[Path], None] | None = field(default=None, compare=False)


def _with(fn: Callable[..., Path], **kw: Any) -> Callable[[Path], Path]:
    """``fn(path, n=N_FRAMES, **kw)`` as a one-argument generator."""
    kw.setdefault("n", N_FRAMES)
    return functools.partial(fn, **kw)


def _encode(**kw: Any) -> Callable[[Path], Path]:
    return _with(make_clip, **kw)


# property checks (generator regressions would silently remove what a clip is for)
def _check_packed(path: Path) -> None:
    assert DIVX_PACKED_USER_DATA[4:] in path.read_bytes()
    sizes = [p.size for p in packets(path)]
    assert sum(s <= 8 for s in sizes) >= 5, f"expected N-VOP chunks, sizes {sizes}"
    pts = sequential_frames(path).pts
    assert any(b is not None and a is not None and b < a for a, b in zip(pts, pts[1:], strict=False)), pts


def _check_b_frames(path: Path) -> None:
    pk = packets(path)
    assert any(p.pts is not None and p.dts is not None and p.pts != p.dts for p in pk) or (
        any(
            a.pts is not None and b.pts is not None and b.pts < a.pts
            for a, b in zip(pk, pk[1:], strict=False)
        )
    ), "no reordered packets"


def _check_b_pyramid(path: Path) -> None:
    """A referenced B-frame comes between its P-frame and the B-frames that use it: decode order
    shows three strictly falling timestamps (P 4, B 2, b 1), never seen without a pyramid."""
    pts = [p.pts for p in packets(path)]
    assert any(a > b > c for a, b, c in zip(pts, pts[1:], pts[2:], strict=False)), pts


def _check_avi_h264(path: Path) -> None:
    pts = sequential_frames(path).pts
    assert pts != sorted(pts), "the AVI's guessed timestamps should come out of the decoder out of order"


def _check_edit_list(path: Path) -> None:
    pk = packets(path)
    cut = [p.pts for p in pk if p.discard]
    kept = [p.pts for p in pk if not p.discard]
    assert cut and max(cut) < min(kept), "the discarded packets must be the earliest frames"
    assert len(sequential_frames(path)) == len(kept)


def _check_start_time(path: Path) -> None:
    import av

    with av.open(str(path)) as c:
        assert c.streams.video[0].start_time and c.start_time > 0, (
            c.start_time,
            c.streams.video[0].start_time,
        )


def _check_hidden(path: Path) -> None:
    assert len(packets(path)) > len(sequential_frames(path))


def _check_vp9_superframes(path: Path) -> None:
    import av

    with av.open(str(path)) as c:
        data = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    per_packet = [vp9_frames_in_packet(d) for d in data]
    assert sum(per_packet) - len(per_packet) == 3, f"expected 3 hidden frames in superframes: {per_packet}"
    assert len(sequential_frames(path)) == len(data)


def _check_vfr(path: Path) -> None:
    pts = [p.pts for p in packets(path)]
    assert len(set(np.diff(sorted(pts)).tolist())) > 3, "timestamps are evenly spaced"


def _check_no_timestamps(path: Path) -> None:
    pk = packets(path)
    assert all(p.pts is None and p.dts is None for p in pk)
    assert all(t is None for t in sequential_frames(path).pts)


def _check_some_timestamps(path: Path) -> None:
    missing = [p.pts is None for p in packets(path)]
    assert any(missing) and not all(missing), missing


def _check_cut(path: Path) -> None:
    pk = packets(path)
    assert not pk[0].keyframe, "the first packet must not be a keyframe"
    assert len(sequential_frames(path)) < len(pk), "the decoder drops what precedes the first keyframe"


def _check_dup(path: Path) -> None:
    pts = [p.pts for p in packets(path)]
    assert len(set(pts)) < len(pts), "no duplicate timestamps"
    assert len(sequential_frames(path)) == len(pts)


def _check_rotation(expected: int) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        got = set(sequential_frames(path).rotation)
        assert {r % 360 for r in got} == {expected % 360}, got

    return check


def _check_open_gop(path: Path) -> None:
    """Some keyframe after the first is followed (decode order) by frames shown before it."""
    pk = packets(path)
    keys = [i for i, p in enumerate(pk) if p.keyframe][1:]
    assert any(j + 1 < len(pk) and pk[j + 1].pts < pk[j].pts for j in keys), "no open GOP"


def _check_intra(path: Path) -> None:
    assert all(p.keyframe for p in packets(path))


_X264 = dict(codec="libx264", gop=12, bframes=2)
_VPX_FAST = {"deadline": "realtime", "cpu-used": "8", "b": "400k"}

CORPUS: dict[str, Clip] = {
    c.name: c
    for c in [
        # MP4/MOV: sample tables, B-frames, edit lists, start times, display matrices
        Clip(
            "h264-bframes.mp4", _encode(**_X264), "H.264 closed GOPs of 12, 2 B-frames", check=_check_b_frames
        ),
        Clip(
            "h264-bpyramid.mp4",
            _encode(codec="libx264", gop=16, bframes=3, x264_params="b-pyramid=normal:b-adapt=0"),
            "H.264 B-pyramid (3 B-frames, the middle one a reference)",
            check=_check_b_pyramid,
        ),
        Clip(
            "h264-open-gop.mp4",
            _encode(codec="libx264", gop=15, bframes=2, options={"open_gop": True}),
            "H.264 open GOPs: leading B-frames reference the previous GOP",
            check=_check_open_gop,
        ),
        Clip(
            "hevc.mp4",
            _encode(
                codec="libx265",
                gop=16,
                options={"x265-params": "keyint=16:min-keyint=16:scenecut=0:bframes=3:log-level=error"},
            ),
            "HEVC, x265 defaults: CRA keyframes (open GOP), 3 B-frames",
            check=_check_open_gop,
        ),
        Clip(
            "h264-editlist.mp4",
            _encode(**_X264, first_pts=-6),
            "edit list trims the first 6 frames: the demuxer flags their packets discard",
            check=_check_edit_list,
        ),
        Clip(
            "mpeg4-editlist.mov",
            _encode(codec="mpeg4", gop=12, bframes=2, first_pts=-5),
            "MOV, MPEG-4 Part 2 with B-frames, edit list trimming 5 frames",
            check=_check_edit_list,
        ),
        Clip(
            "h264-start.mov",
            _encode(**_X264, first_pts=50),
            "MOV whose first frame is at 2 s (empty edit: non-zero start time)",
            check=_check_start_time,
        ),
        Clip(
            "h263.3gp",
            _encode(codec="h263", w=176, h=144, gop=12, bframes=0),
            "3GP, H.263 (QCIF)",
        ),
        Clip(
            "prores.mov",
            _encode(codec="prores", gop=1, bframes=0, pix_fmt="yuv422p10le"),
            "MOV, ProRes 4:2:2 10-bit, intra only",
            check=_check_intra,
        ),
        # AVI: no presentation timestamps in the container
        Clip(
            "mpeg4-bframes.avi",
            _encode(codec="mpeg4", gop=10, bframes=2),
            "AVI, MPEG-4 Part 2 with 2 B-frames, one VOP per chunk",
            check=_check_b_frames,
        ),
        Clip(
            "mpeg4-packed.avi",
            _with(make_packed_mpeg4_avi, gop=10, bframes=2),
            "AVI, MPEG-4 Part 2 packed B-frames (DivX/Xvid): output timestamps out of order",
            check=_check_packed,
        ),
        Clip(
            "h264-bframes.avi",
            _encode(**_X264),
            "AVI, H.264 with B-frames: the demuxer's timestamps are decode order",
            check=_check_avi_h264,
        ),
        Clip(
            "mjpeg.avi",
            _encode(codec="mjpeg", w=192, h=108, gop=1, bframes=0, pix_fmt="yuvj420p"),
            "AVI, MJPEG (full-range YUV), 192x108",
            check=_check_intra,
        ),
        Clip(
            "msmpeg4v2.avi", _encode(codec="msmpeg4v2", gop=12, bframes=0), "AVI, MS MPEG-4 v2 (DivX 3 era)"
        ),
        # Matroska / WebM
        Clip(
            "h264-vfr.mkv",
            _encode(**_X264, vfr=True),
            "MKV, H.264, variable frame rate (20-90 ms apart)",
            check=_check_vfr,
        ),
        Clip(
            "vp8.webm",
            _encode(codec="libvpx", w=128, h=80, gop=15, bframes=0, options=_VPX_FAST),
            "WebM, VP8, 128x80",
        ),
        Clip("vp9.webm", _encode(codec="libvpx-vp9", gop=15, bframes=0, options=_VPX_FAST), "WebM, VP9"),
        Clip(
            "vp8-hidden.webm",
            _with(make_vp8_hidden, hide=(7, 20, 21), gop=15, options=_VPX_FAST),
            "WebM, VP8 with 3 hidden frames: packets that output no frame",
            check=_check_hidden,
        ),
        Clip(
            "vp9-hidden.webm",
            _with(make_vp9_hidden, hide=(7, 20, 21), gop=15),
            "WebM, VP9 with 3 hidden frames, each in a superframe with the next frame",
            check=_check_vp9_superframes,
        ),
        Clip(
            "h264-cut.mkv",
            _with(make_cut, drop=5, **_X264),
            "MKV, H.264 starting mid-GOP (first 5 packets dropped)",
            check=_check_cut,
        ),
        Clip(
            "mjpeg-dup-ts.mkv",
            _with(make_dup_ts, codec="mjpeg", gop=1, pix_fmt="yuvj420p"),
            "MKV, MJPEG, every 4th frame repeats the previous timestamp",
            check=_check_dup,
        ),
        Clip(
            "h264-dup-ts.mkv",
            _with(make_dup_ts, codec="libx264", gop=12),
            "MKV, H.264 (P-frames), every 4th frame repeats the previous timestamp",
            check=_check_dup,
        ),
        Clip("ffv1.mkv", _encode(codec="ffv1", gop=12, bframes=0), "MKV, FFV1 (lossless)"),
        # streams without an index: MPEG-TS/PS, FLV, ASF, elementary streams
        Clip("h264.ts", _encode(**_X264), "MPEG-TS, H.264 with B-frames", check=_check_b_frames),
        Clip(
            "h264-cut.ts",
            _with(make_cut, drop=5, **_X264),
            "MPEG-TS, H.264 starting mid-GOP (first 5 packets dropped)",
            check=_check_cut,
        ),
        Clip(
            "h264-no-pts.ts",
            _with(make_no_pts_ts, strip=lambda k: True, **_X264),
            "MPEG-TS, H.264 with B-frames, no PES carries a PTS/DTS",
            check=_check_no_timestamps,
        ),
        Clip(
            "h264-some-pts.ts",
            _with(make_no_pts_ts, strip=lambda k: k % 2 == 1, **_X264),
            "MPEG-TS, H.264 with B-frames, every other PES without PTS/DTS",
            check=_check_some_timestamps,
        ),
        Clip(
            "mpeg2.mpg",
            _encode(codec="mpeg2video", gop=12, bframes=2, container_format="mpeg"),
            "MPEG-PS, MPEG-2 with 2 B-frames",
            check=_check_b_frames,
        ),
        Clip("h264.flv", _encode(**_X264), "FLV, H.264 with B-frames", check=_check_b_frames),
        Clip("wmv2.wmv", _encode(codec="wmv2", gop=12, bframes=0), "ASF, WMV 8"),
        Clip(
            "h264-annexb.h264",
            _encode(**_X264, container_format="h264"),
            "raw H.264 Annex-B elementary stream: no timestamps at all",
            check=_check_no_timestamps,
        ),
        Clip("rawvideo.y4m", _encode(codec="rawvideo", w=64, h=48, gop=1, bframes=0), "YUV4MPEG, 64x48"),
    ]
    + [
        Clip(
            f"h264-rot{deg}.{ext}",
            _encode(**_X264, n=30, rotation=deg),
            f"display matrix: rotate {deg} degrees counter-clockwise",
            rotation=deg,
            check=_check_rotation(deg),
        )
        for deg, ext in [(0, "mp4"), (90, "mp4"), (180, "mp4"), (270, "mp4"), (90, "mov")]
    ]
}

ROTATED = [name for name, clip in CORPUS.items() if "-rot" in name]


def build_corpus(directory: Path, names: Sequence[str] | None = None) -> dict[str, Path]:
    """Generate the clips (all, or ``names``) into ``directory``; name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or CORPUS:
        path = directory / name
        CORPUS[name].make(path)
        out[name] = path
    return out


# -- survey: what OpenCV and decord make of each clip ----------------------------------------------
def _matches(frames: Sequence[np.ndarray], ref: Sequence[np.ndarray], tol: float = 6.0) -> list[int | None]:
    """For each frame, the position of the closest sequential frame (mean abs difference below
    ``tol``: other decoders convert colour slightly differently), or None."""
    stack = np.stack(ref).astype(np.int16)
    out: list[int | None] = []
    for f in frames:
        if f.shape != stack.shape[1:]:
            out.append(None)
            continue
        err = np.abs(stack - f).mean(axis=(1, 2, 3))
        out.append(int(err.argmin()) if err.min() < tol else None)
    return out


def _summary(found: list[int | None], n_ref: int) -> str:
    exact = sum(f == i for i, f in enumerate(found))
    first_bad = next((i for i, f in enumerate(found) if f != i), None)
    where = "" if first_bad is None else f", first off at {first_bad} (shows {found[first_bad]})"
    return f"{len(found)} read, {exact}/{n_ref} at their position{where}"


def survey(paths: dict[str, Path]) -> None:
    import cv2

    try:
        import decord
    except ImportError:  # pragma: no cover - optional
        decord = None
    for name, path in paths.items():
        ref = sequential_rgb(path)
        print(f"{name}: sequential decode {len(ref)} frames; {CORPUS[name].note}")
        cap = cv2.VideoCapture(str(path))
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        frames = []
        while True:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(img[..., ::-1])
        cap.release()
        print(f"  opencv: CAP_PROP_FRAME_COUNT {count:g}; {_summary(_matches(frames, ref), len(ref))}")
        if decord is not None:
            try:
                vr = decord.VideoReader(str(path))
                n = len(vr)
                got = [vr[i].asnumpy() for i in range(n)]
                for display in (False, True):
                    found = _matches(got, sequential_rgb(path, display=display))
                    if any(f is not None for f in found) or display:
                        break
                where = "display" if display else "stored"
                print(f"  decord: len {n}; {_summary(found, len(ref))} ({where} orientation)")
            except Exception as exc:  # decord raises its own DECORDError and RuntimeErrors
                print(f"  decord: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("corpus-survey")
    if target.exists():
        shutil.rmtree(target)
    survey(build_corpus(target))
