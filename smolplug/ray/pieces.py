"""Read pieces: a video's requested frames cut into (file, GOP range) pieces of similar decoding
cost, from its keyframe index alone (no decoding), and JPEG files cut into runs of files.

A piece is what one read task decodes. Frame *i* stays the i-th frame of a sequential decode:
a piece only restricts which requested positions one reader delivers; the reader seeks to the
piece's first seek point (or earlier, when its index says a seek point is inexact) exactly as a
single-process read of those frames would.

Cost of a piece: the frames its decoder runs through (for each group of wanted frames, from its
seek point to its last wanted frame, :func:`smolplug.video.plan.plan`) times the pixels of the
decoded picture (the rendition a reader will pick, when there is one). A piece is cut only at a
seek point, where decoding starts afresh anyway: splitting there adds one seek, not decoding.
Videos whose frames are only known by counting from the start (``identity == "count"``) are one
piece: any other cut would decode the file's head again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..video.index import VideoIndex
from ..video.plan import plan

#: the decoding cost unit: one 1920x1080 frame
HD_PIXELS = 1920 * 1080


@dataclass
class Piece:
    """Requested positions of one file that one read task delivers."""

    path: str
    positions: np.ndarray  #: int64: indices into the request (delivery order within the piece)
    frames: np.ndarray  #: int64: the frame requested at each position (may be out of range)
    cost: float = 0.0  #: frames decoded, in 1080p-frame equivalents
    first: int = -1  #: first frame decoded (its seek point); -1 when nothing is decoded
    last: int = -1  #: last frame decoded
    error: str = ""  #: the file cannot be read: every position is reported with this message
    status: int = 0  #: the Status of ``error``
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class _Atom:
    """Wanted frames decoded from one seek point: the smallest unit a piece is made of."""

    start: int
    targets: np.ndarray  #: ascending unique frame indices
    span: int  #: frames decoded from ``start`` to the last target


def _atoms(index: VideoIndex, wanted: np.ndarray) -> list[_Atom]:
    """Segments of the decode plan, each cut further at every seek point inside it where a
    wanted frame follows (decoding from there is what continuing would do anyway)."""
    if len(wanted) == 0:
        return []
    if index.identity == "count":
        return [_Atom(0, wanted, int(wanted[-1]) + 1)]
    keys = index.keyframes
    atoms = []
    for seg in plan(index, wanted):
        key_of = keys[np.searchsorted(keys, seg.targets, side="right") - 1]
        key_of = np.maximum(key_of, seg.start)
        cuts = np.flatnonzero(np.diff(key_of)) + 1
        for part, start in zip(np.split(seg.targets, cuts), [seg.start, *key_of[cuts].tolist()], strict=True):
            atoms.append(_Atom(int(start), part, int(part[-1]) - int(start) + 1))
    return atoms


def video_pieces(
    path: str | Path,
    index: VideoIndex,
    frames: np.ndarray,
    *,
    target_cost: float,
    pixels: int | None = None,
) -> list[Piece]:
    """Cut the requested ``frames`` (delivery order, repeats and out-of-range indices allowed)
    of one video into pieces of about ``target_cost`` each (1080p-frame equivalents; whole
    atoms: a piece may be larger when one GOP is). Every position lands in exactly one piece;
    out-of-range ones in the first."""
    frames = np.asarray(frames, np.int64).reshape(-1)
    n = index.n_frames
    scale = (pixels if pixels is not None else index.width * index.height) / HD_PIXELS
    valid = (frames >= 0) & (frames < n)
    wanted = np.unique(frames[valid])
    atoms = _atoms(index, wanted)
    # piece k takes the atoms whose cost midpoint falls in [k, k + 1) x target: pieces of about
    # the target each (never cut inside an atom), the last one included
    groups: list[list[_Atom]] = []
    done = 0.0
    slot = -1
    for a in atoms:
        cost = a.span * scale
        k = int((done + cost / 2) // target_cost) if target_cost > 0 else len(groups)
        if not groups or k > slot:
            groups.append([])
            slot = k
        groups[-1].append(a)
        done += cost
    pieces = []
    owner = np.full(n, -1, np.int64)  # piece of each wanted frame
    for k, g in enumerate(groups):
        for a in g:
            owner[a.targets] = k
        pieces.append(
            Piece(
                str(path),
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                sum(a.span for a in g) * scale,
                g[0].start,
                int(g[-1].targets[-1]),
            )
        )
    if not pieces:  # nothing to decode: one piece reports the positions
        pieces.append(Piece(str(path), np.empty(0, np.int64), np.empty(0, np.int64)))
    where = np.zeros(len(frames), np.int64)  # out of range: the first piece
    where[valid] = owner[frames[valid]]
    positions = np.arange(len(frames), dtype=np.int64)
    for k, p in enumerate(pieces):
        mine = positions[where == k]
        p.positions, p.frames = mine, frames[mine]
    return pieces


def failed_piece(path: str | Path, frames: np.ndarray | None, status: int, message: str) -> Piece:
    """The piece of a file that cannot be opened: each requested position (one position, frame -1,
    when the selection needs the frame count to say which frames it means) reported with
    ``message``."""
    if frames is None:
        frames = np.asarray([-1], np.int64)
    frames = np.asarray(frames, np.int64)
    return Piece(str(path), np.arange(len(frames), dtype=np.int64), frames, error=message, status=status)


def image_pieces(paths: Sequence[str | Path], positions: np.ndarray, per_piece: int) -> list[Piece]:
    """Requested file indices (delivery order) in runs of ``per_piece`` positions; the piece's
    ``path`` is empty: each row carries its own file."""
    positions = np.asarray(positions, np.int64)
    order = np.arange(len(positions), dtype=np.int64)
    out = []
    for s in range(0, max(len(positions), 1), max(per_piece, 1)):
        chunk = order[s : s + per_piece]
        out.append(Piece("", chunk, positions[chunk], cost=float(len(chunk))))
    return out
