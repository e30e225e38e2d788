"""Resize-policy geometry (the Python twin of native/sp_geometry.c).

Given a request and a source of ``w`` x ``h`` pixels: the float source
rectangle that is read and the integer destination rectangle it fills in the
output frame; the rest of the frame is padding.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import RegionOutOfBoundsError
from .spec import FrameSpec


class Geometry(NamedTuple):
    sx: float
    sy: float
    sw: float
    sh: float
    dx: int
    dy: int
    dw: int
    dh: int

    @property
    def padded(self) -> bool:
        return self.dx > 0 or self.dy > 0


def compute_geometry(spec: FrameSpec, w: int, h: int) -> Geometry:
    """Where the pixels of a ``w`` x ``h`` source go under ``spec``."""
    OH, OW = spec.height, spec.width
    rx, ry, rw, rh = 0.0, 0.0, float(w), float(h)
    if spec.roi is not None:
        rx, ry, rw, rh = spec.roi
        if not (rx + rw <= w and ry + rh <= h):
            raise RegionOutOfBoundsError(
                f"region of interest (x={rx:g}, y={ry:g}, w={rw:g}, h={rh:g}) is not inside the {w}x{h} image"
            )
    sx, sy, sw, sh = rx, ry, rw, rh
    dx, dy, dw, dh = 0, 0, OW, OH
    if spec.resize == "shorter-side-crop":
        S = spec.shorter_side or max(OH, OW)
        if rw <= rh:
            nw, nh = S, int(S * rh / rw)
        else:
            nh, nw = S, int(S * rw / rh)
        nw, nh = max(nw, 1), max(nh, 1)
        kx, ky = rw / nw, rh / nh
        if nw < OW:
            dx, dw = (OW - nw) // 2, nw
        else:
            sx, sw = rx + kx * round((nw - OW) / 2.0), kx * OW
        if nh < OH:
            dy, dh = (OH - nh) // 2, nh
        else:
            sy, sh = ry + ky * round((nh - OH) / 2.0), ky * OH
    elif spec.resize == "letterbox":
        r = min(OW / rw, OH / rh)
        nw = min(max(int(rw * r + 0.5), 1), OW)
        nh = min(max(int(rh * r + 0.5), 1), OH)
        dx, dw, dy, dh = (OW - nw) // 2, nw, (OH - nh) // 2, nh
    return Geometry(sx, sy, sw, sh, dx, dy, dw, dh)
