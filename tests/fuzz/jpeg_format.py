"""A JPEG file as a list of segments, so mutations can work inside them: parse, edit, write back
(with the length fields recomputed, or not, when a mutation wants a lying length)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SOI, EOI, SOS, DHT, DQT, DRI, DAC, COM, APP0, APP1 = (
    0xD8,
    0xD9,
    0xDA,
    0xC4,
    0xDB,
    0xDD,
    0xCC,
    0xFE,
    0xE0,
    0xE1,
)
RST0 = 0xD0
#: start-of-frame markers: baseline, extended, progressive, lossless; Huffman then arithmetic
SOF_MARKERS = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_STANDALONE = frozenset([SOI, EOI, 0x01, *range(RST0, RST0 + 8)])


@dataclass
class Segment:
    """One marker segment. ``payload`` excludes the marker and the length field; ``scan`` is the
    entropy-coded data after an SOS (restart markers included); ``length`` overrides the written
    length field (None: the true one)."""

    marker: int
    payload: bytes = b""
    scan: bytes = b""
    length: int | None = None

    def copy(self, **changes: object) -> Segment:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class JpegFile:
    segments: list[Segment]
    tail: bytes = b""  #: bytes after the last parsed segment (after EOI, or unparseable rest)

    def find(self, *markers: int) -> list[int]:
        """Indices of the segments with one of ``markers``."""
        return [i for i, s in enumerate(self.segments) if s.marker in markers]

    def sof(self) -> Segment | None:
        hits = self.find(*SOF_MARKERS)
        return self.segments[hits[0]] if hits else None


def _scan_end(data: bytes, i: int) -> int:
    """End of the entropy-coded data starting at ``i``: the first marker other than a stuffed
    zero, a fill byte or a restart marker."""
    n = len(data)
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= n:
            return n
        nxt = data[j + 1]
        if nxt == 0x00 or nxt == 0xFF or RST0 <= nxt <= RST0 + 7:
            i = j + 1 if nxt == 0xFF else j + 2
            continue
        return j


def parse(data: bytes) -> JpegFile | None:
    """Segments of a JPEG file; None when it does not start with SOI."""
    if data[:2] != b"\xff\xd8":
        return None
    segments, i, n = [Segment(SOI)], 2, len(data)
    while i + 1 < n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            segments.append(Segment(marker))
            i += 2
            if marker == EOI:
                break
            continue
        if i + 4 > n:
            break
        length = data[i + 2] << 8 | data[i + 3]
        if length < 2 or i + 2 + length > n:
            break
        seg = Segment(marker, data[i + 4 : i + 2 + length])
        i += 2 + length
        if marker == SOS:
            end = _scan_end(data, i)
            seg.scan, i = data[i:end], end
        segments.append(seg)
    return JpegFile(segments, data[i:])


def write(jpeg: JpegFile) -> bytes:
    out = bytearray()
    for s in jpeg.segments:
        out += bytes([0xFF, s.marker])
        if s.marker in _STANDALONE:
            continue
        length = s.length if s.length is not None else len(s.payload) + 2
        out += (length & 0xFFFF).to_bytes(2, "big") + s.payload + s.scan
    return bytes(out + jpeg.tail)


@dataclass
class Frame:
    """The fields of an SOF payload."""

    precision: int
    height: int
    width: int
    components: list[list[int]]  #: [id, h, v, quant table] each

    @classmethod
    def parse(cls, payload: bytes) -> Frame | None:
        if len(payload) < 6:
            return None
        n = payload[5]
        comps = [
            [payload[6 + 3 * c], payload[7 + 3 * c] >> 4, payload[7 + 3 * c] & 15, payload[8 + 3 * c]]
            for c in range(n)
            if 8 + 3 * c < len(payload)
        ]
        return cls(payload[0], payload[1] << 8 | payload[2], payload[3] << 8 | payload[4], comps)

    def write(self, count: int | None = None) -> bytes:
        """The payload; ``count`` overrides the component count byte (a lying Nf)."""
        n = len(self.components) if count is None else count
        out = bytearray(
            [self.precision & 255, *divmod(self.height & 0xFFFF, 256), *divmod(self.width & 0xFFFF, 256)]
        )
        out.append(n & 255)
        for cid, h, v, tq in self.components:
            out += bytes([cid & 255, (h & 15) << 4 | (v & 15), tq & 255])
        return bytes(out)


@dataclass
class Scan:
    """The fields of an SOS payload."""

    components: list[list[int]]  #: [selector, DC table, AC table] each
    ss: int
    se: int
    ah: int
    al: int

    @classmethod
    def parse(cls, payload: bytes) -> Scan | None:
        if not payload:
            return None
        n = payload[0]
        if len(payload) < 1 + 2 * n + 3:
            return None
        comps = [[payload[1 + 2 * c], payload[2 + 2 * c] >> 4, payload[2 + 2 * c] & 15] for c in range(n)]
        ss, se, a = payload[1 + 2 * n : 4 + 2 * n]
        return cls(comps, ss, se, a >> 4, a & 15)

    def write(self) -> bytes:
        out = bytearray([len(self.components) & 255])
        for sel, td, ta in self.components:
            out += bytes([sel & 255, (td & 15) << 4 | (ta & 15)])
        out += bytes([self.ss & 255, self.se & 255, (self.ah & 15) << 4 | (self.al & 15)])
        return bytes(out)


def exif_app1(orientation: int, *, big_endian: bool = False, ifd_offset: int = 8, count: int = 1) -> bytes:
    """An APP1 Exif payload whose IFD0 holds one orientation entry (SHORT); the offset and entry
    count can lie."""
    order = "big" if big_endian else "little"

    def u16(v: int) -> bytes:
        return (v & 0xFFFF).to_bytes(2, order)

    def u32(v: int) -> bytes:
        return (v & 0xFFFFFFFF).to_bytes(4, order)

    tiff = (b"MM" if big_endian else b"II") + u16(42) + u32(ifd_offset)
    entry = u16(0x0112) + u16(3) + u32(1) + u16(orientation) + b"\0\0"
    return b"Exif\0\0" + tiff + u16(count) + entry + u32(0)
