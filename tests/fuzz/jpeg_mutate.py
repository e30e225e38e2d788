"""Seeded, format-aware JPEG mutations: each operator edits one field of one segment (frame
header, Huffman and quantisation tables, scan header, restart interval and markers, EXIF
orientation), the entropy-coded data, or the segment list (remove, duplicate, reorder, splice from
another file), so mutants get past the header checks and reach the decoder's deeper paths. Plain
byte flips and truncations are in the mix too.

``mutate(rng, seed, donors)`` returns the mutant and the names of the operators applied; the same
``random.Random`` state gives the same mutant.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .jpeg_format import (
    APP1,
    COM,
    DAC,
    DHT,
    DQT,
    DRI,
    EOI,
    RST0,
    SOF_MARKERS,
    SOI,
    SOS,
    Frame,
    JpegFile,
    Scan,
    Segment,
    exif_app1,
    parse,
    write,
)

Op = Callable[[random.Random, JpegFile, Sequence[JpegFile]], bool]
OPS: dict[str, Op] = {}


def op(fn: Op) -> Op:
    OPS[fn.__name__] = fn
    return fn


def _interesting(rng: random.Random, current: int, bits: int = 16) -> int:
    """A value likely to hit an edge: 0, 1, powers of two and their neighbours, the maximum,
    the current value nudged, or anything."""
    top = (1 << bits) - 1
    k = rng.randrange(6)
    if k == 0:
        return rng.choice([0, 1, 2, 7, 8, 9, 15, 16, 17, 255, 256, top, top - 1])
    if k == 1:
        p = rng.randrange(bits)
        return min(top, max(0, (1 << p) + rng.choice([-1, 0, 1])))
    if k == 2:
        return min(top, max(0, current + rng.choice([-8, -1, 1, 8])))
    if k == 3:
        return rng.randrange(1, 300)
    return rng.randrange(top + 1)


def _pick(rng: random.Random, jpeg: JpegFile, *markers: int) -> Segment | None:
    hits = jpeg.find(*markers)
    return jpeg.segments[rng.choice(hits)] if hits else None


def _first_sos(jpeg: JpegFile) -> int:
    hits = jpeg.find(SOS)
    return hits[0] if hits else len(jpeg.segments)


def _edit_frame(rng: random.Random, jpeg: JpegFile, edit: Callable[[Frame], bool]) -> bool:
    seg = jpeg.sof()
    frame = Frame.parse(seg.payload) if seg else None
    if seg is None or frame is None or not edit(frame):
        return False
    seg.payload = frame.write()
    return True


# --- frame header (SOF) ----------------------------------------------------------------------


@op
def sof_dimensions(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    def edit(f: Frame) -> bool:
        if rng.random() < 0.15:
            f.height, f.width = f.width, f.height
        elif rng.random() < 0.5:
            f.height = _interesting(rng, f.height)
        else:
            f.width = _interesting(rng, f.width)
        return True

    return _edit_frame(rng, jpeg, edit)


@op
def sof_sampling(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    def edit(f: Frame) -> bool:
        if not f.components:
            return False
        c = rng.choice(f.components)
        h, v = (rng.randint(1, 4), rng.randint(1, 4)) if rng.random() < 0.8 else (rng.randrange(16),) * 2
        c[1], c[2] = h, v
        return True

    return _edit_frame(rng, jpeg, edit)


@op
def sof_components(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Drop, add or duplicate a component, change ids or quantisation table selectors, or make
    the count byte lie."""
    seg = jpeg.sof()
    frame = Frame.parse(seg.payload) if seg else None
    if seg is None or frame is None:
        return False
    comps, k = frame.components, rng.randrange(5)
    if k == 0 and comps:
        comps.pop(rng.randrange(len(comps)))
    elif k == 1:
        comps.append(list(rng.choice(comps)) if comps else [1, 1, 1, 0])
        comps[-1][0] = rng.choice([comps[-1][0], rng.randrange(256)])
    elif k == 2 and comps:
        rng.choice(comps)[0] = rng.choice([comps[0][0], rng.randrange(256)])
    elif k == 3 and comps:
        rng.choice(comps)[3] = rng.choice([0, 1, 2, 3, rng.randrange(256)])
    else:
        seg.payload = frame.write(count=rng.choice([0, 1, 2, 3, 4, 5, 10, 255]))
        return True
    seg.payload = frame.write()
    return True


@op
def sof_precision(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    def edit(f: Frame) -> bool:
        f.precision = rng.choice([8, 12, 16, 0, 2, rng.randrange(256)])
        return True

    return _edit_frame(rng, jpeg, edit)


@op
def sof_process(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Switch baseline / extended / progressive / lossless / arithmetic, keeping the data."""
    seg = jpeg.sof()
    if seg is None:
        return False
    seg.marker = rng.choice(SOF_MARKERS)
    return True


# --- tables -----------------------------------------------------------------------------------


@op
def table_presence(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Remove one or all DHT/DQT segments (MJPEG-style files omit DHT), or duplicate one."""
    marker = rng.choice([DHT, DQT])
    hits = jpeg.find(marker)
    if not hits:
        return False
    k = rng.randrange(3)
    if k == 0:
        del jpeg.segments[rng.choice(hits)]
    elif k == 1:
        for i in reversed(hits):
            del jpeg.segments[i]
    else:
        i = rng.choice(hits)
        jpeg.segments.insert(rng.randint(1, len(jpeg.segments)), jpeg.segments[i].copy())
    return True


@op
def dht_fields(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Class/id nibble, code-length counts (too many codes, none, an over-full length), symbols."""
    seg = _pick(rng, jpeg, DHT)
    if seg is None or len(seg.payload) < 17:
        return False
    p = bytearray(seg.payload)
    k = rng.randrange(4)
    if k == 0:
        p[0] = rng.choice([0x00, 0x01, 0x10, 0x11, 0x02, 0x13, 0x04, 0x20, rng.randrange(256)])
    elif k == 1:
        p[1 + rng.randrange(16)] = rng.choice([0, 1, 2, 3, 255, rng.randrange(256)])
    elif k == 2:
        p[1:17] = bytes(16) if rng.random() < 0.3 else bytes([0] * 15 + [rng.randrange(256)])
    else:
        for _ in range(rng.randint(1, 8)):
            if len(p) > 17:
                p[17 + rng.randrange(len(p) - 17)] = rng.randrange(256)
    seg.payload = bytes(p)
    return True


@op
def dqt_fields(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Precision/id nibble (16-bit tables, ids past 3), zero or extreme quantisers."""
    seg = _pick(rng, jpeg, DQT)
    if seg is None or len(seg.payload) < 65:
        return False
    p = bytearray(seg.payload)
    k = rng.randrange(3)
    if k == 0:
        p[0] = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0xFF])
    elif k == 1:
        value = rng.choice([0, 1, 255])
        for i in rng.sample(range(1, 65), rng.randint(1, 64)):
            p[i] = value
    else:
        p[1 + rng.randrange(64)] = rng.randrange(256)
    seg.payload = bytes(p)
    return True


# --- scans ------------------------------------------------------------------------------------


@op
def sos_fields(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Component count and selectors, table selectors, spectral selection Ss/Se and successive
    approximation Ah/Al (progressive parameters on any file)."""
    seg = _pick(rng, jpeg, SOS)
    scan = Scan.parse(seg.payload) if seg else None
    if seg is None or scan is None:
        return False
    k = rng.randrange(6)
    if k == 0 and scan.components:
        c = rng.choice(scan.components)
        c[rng.randrange(3)] = rng.choice([0, 1, 2, 3, 4, rng.randrange(256)])
    elif k == 1:
        if scan.components and rng.random() < 0.5:
            scan.components.pop(rng.randrange(len(scan.components)))
        else:
            scan.components.append(list(rng.choice(scan.components)) if scan.components else [1, 0, 0])
    elif k == 2:
        scan.ss, scan.se = rng.choice([(0, 0), (0, 63), (1, 63), (1, 5), (6, 63), (5, 1), (0, 64), (64, 64)])
    elif k == 3:
        scan.ah, scan.al = rng.randrange(16), rng.randrange(16)
    elif k == 4:
        scan.ss, scan.se = rng.randrange(256), rng.randrange(256)
    else:
        seg.payload = bytes([rng.choice([0, 5, 255])]) + seg.payload[1:]  # a lying count
        return True
    seg.payload = scan.write()
    return True


@op
def scan_order(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Drop, duplicate or swap whole scans (header + data)."""
    hits = jpeg.find(SOS)
    if not hits:
        return False
    k = rng.randrange(3)
    if k == 0 and len(hits) > 1:
        del jpeg.segments[rng.choice(hits)]
    elif k == 1 or len(hits) < 2:
        i = rng.choice(hits)
        jpeg.segments.insert(i + 1, jpeg.segments[i].copy())
    else:
        a, b = rng.sample(hits, 2)
        jpeg.segments[a], jpeg.segments[b] = jpeg.segments[b], jpeg.segments[a]
    return True


@op
def restart_interval(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Add, remove or change a DRI segment (without touching the RST markers in the data)."""
    hits = jpeg.find(DRI)
    if hits and rng.random() < 0.3:
        del jpeg.segments[rng.choice(hits)]
        return True
    interval = rng.choice([0, 1, 2, 3, 7, 64, 65535, rng.randrange(65536)])
    if hits:
        jpeg.segments[rng.choice(hits)].payload = interval.to_bytes(2, "big")
    else:
        jpeg.segments.insert(rng.randint(1, _first_sos(jpeg)), Segment(DRI, interval.to_bytes(2, "big")))
    return True


@op
def restart_markers(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Insert RSTn markers into the entropy-coded data, remove them, or renumber them."""
    seg = _pick(rng, jpeg, SOS)
    if seg is None or not seg.scan:
        return False
    data = bytearray(seg.scan)
    k = rng.randrange(3)
    if k == 0:
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes([0xFF, RST0 + rng.randrange(8)])
    else:
        spots = [i for i in range(len(data) - 1) if data[i] == 0xFF and RST0 <= data[i + 1] <= RST0 + 7]
        if not spots:
            return False
        for i in reversed(rng.sample(spots, rng.randint(1, len(spots)))):
            if k == 1:
                del data[i : i + 2]
            else:
                data[i + 1] = RST0 + rng.randrange(8)
    seg.scan = bytes(data)
    return True


@op
def entropy_data(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Damage the entropy-coded data: flip bytes, zero or randomise a run, plant markers (an early
    EOI, an unknown marker, a lone 0xFF), cut it short, or splice another file's data in."""
    seg = _pick(rng, jpeg, SOS)
    if seg is None:
        return False
    data = bytearray(seg.scan)
    k = rng.randrange(6)
    if k == 0 and data:
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif k == 1 and data:
        a = rng.randrange(len(data))
        b = min(len(data), a + rng.randint(1, 64))
        data[a:b] = bytes(b - a) if rng.random() < 0.5 else rng.randbytes(b - a)
    elif k == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice(
            [b"\xff\xd9", b"\xff\xc4", b"\xff\xff\xff", b"\xff", b"\xff\x01", b"\xff\xda"]
        )
    elif k == 3:
        del data[rng.randrange(len(data) + 1) :]
    elif k == 4 and donors:
        donor = rng.choice(donors)
        scans = [s.scan for s in donor.segments if s.marker == SOS and s.scan]
        if not scans:
            return False
        data = bytearray(rng.choice(scans))
    else:
        data += rng.randbytes(rng.randint(1, 256))
    seg.scan = bytes(data)
    return True


# --- metadata ---------------------------------------------------------------------------------


@op
def exif_orientation(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Add or replace an APP1 Exif segment: any orientation value, either byte order, a lying
    IFD offset or entry count, or cut short."""
    payload = exif_app1(
        rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 65535]),
        big_endian=rng.random() < 0.5,
        ifd_offset=8 if rng.random() < 0.7 else rng.choice([0, 7, 9, 0xFFFF, 0xFFFFFFFF, rng.randrange(64)]),
        count=1 if rng.random() < 0.7 else rng.choice([0, 2, 0xFFFF, rng.randrange(64)]),
    )
    if rng.random() < 0.15:
        payload = payload[: rng.randrange(len(payload))]
    hits = [i for i in jpeg.find(APP1) if jpeg.segments[i].payload.startswith(b"Exif")]
    if hits:
        jpeg.segments[hits[0]].payload = payload
    else:
        jpeg.segments.insert(1, Segment(APP1, payload))
    return True


@op
def other_segments(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Insert a COM, an unknown APPn, a DAC (arithmetic conditioning) or an empty segment."""
    marker = rng.choice([COM, 0xE2, 0xEE, 0xEF, DAC, 0xF0])
    payload = bytes([rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 14, 200]))])
    jpeg.segments.insert(rng.randint(1, len(jpeg.segments)), Segment(marker, payload))
    return True


# --- segment list -----------------------------------------------------------------------------


@op
def segment_list(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Remove, duplicate or move a segment, or take one from another file."""
    segs = jpeg.segments
    if len(segs) < 2:
        return False
    i = rng.randrange(1, len(segs))
    k = rng.randrange(4)
    if k == 0:
        del segs[i]
    elif k == 1:
        segs.insert(rng.randint(1, len(segs)), segs[i].copy())
    elif k == 2:
        segs.insert(rng.randint(1, len(segs) - 1), segs.pop(i))
    else:
        donor = rng.choice(donors) if donors else jpeg
        pool = [s for s in donor.segments if s.marker not in (SOI, EOI)]
        if not pool:
            return False
        segs.insert(rng.randint(1, len(segs)), rng.choice(pool).copy())
    return True


@op
def length_field(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Make one segment's length field lie."""
    hits = [
        i for i, s in enumerate(jpeg.segments) if s.marker not in (SOI, EOI) and not RST0 <= s.marker <= EOI
    ]
    if not hits:
        return False
    seg = jpeg.segments[rng.choice(hits)]
    seg.length = rng.choice(
        [0, 1, 2, len(seg.payload) + 1, len(seg.payload) + 3, max(2, len(seg.payload) - 1), 65535]
    )
    return True


@op
def end_of_image(rng: random.Random, jpeg: JpegFile, donors: Sequence[JpegFile]) -> bool:
    """Drop the EOI, repeat it, add trailing garbage, or a second SOI."""
    k = rng.randrange(4)
    hits = jpeg.find(EOI)
    if k == 0 and hits:
        del jpeg.segments[hits[-1]]
    elif k == 1:
        jpeg.segments.append(Segment(EOI))
    elif k == 2:
        jpeg.tail += rng.randbytes(rng.randint(1, 64))
    else:
        jpeg.segments.insert(rng.randint(1, len(jpeg.segments)), Segment(SOI))
    return True


# --- whole-file byte mutations (applied after writing) ----------------------------------------


def _byte_level(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    d = bytearray(data)
    k = rng.randrange(4)
    if k == 0:
        for _ in range(rng.randint(1, 20)):
            d[rng.randrange(len(d))] = rng.randrange(256)
        return bytes(d), "byte_flips"
    if k == 1:
        return bytes(d[: rng.randrange(len(d))]), "truncate"
    if k == 2:
        a = rng.randrange(len(d))
        b = min(len(d), a + rng.randint(1, 64))
        d[a:b] = rng.randbytes(b - a)
        return bytes(d), "random_run"
    at = rng.randrange(len(d))
    return bytes(d[:at] + rng.randbytes(rng.randint(1, 32)) + d[at:]), "insert_bytes"


def mutate(rng: random.Random, seed: bytes, donors: Sequence[JpegFile] = ()) -> tuple[bytes, list[str]]:
    """One mutant of ``seed`` and the names of the mutations applied (1 to 4 of them; about one
    mutant in six also gets a byte-level mutation, one in ten gets only that)."""
    applied: list[str] = []
    jpeg = parse(seed)
    if jpeg is not None and rng.random() >= 0.1:
        names = sorted(OPS)
        for _ in range(1 + (rng.random() < 0.35) + (rng.random() < 0.15) + (rng.random() < 0.05)):
            for _attempt in range(4):
                name = rng.choice(names)
                if OPS[name](rng, jpeg, donors):
                    applied.append(name)
                    break
        data = write(jpeg)
    else:
        data = seed
    if (not applied or rng.random() < 1 / 6) and data:
        data, name = _byte_level(rng, data)
        applied.append(name)
    return data, applied


__all__ = ["OPS", "mutate", "parse", "write", "SOF_MARKERS"]
