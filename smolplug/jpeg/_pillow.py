"""Pure-Python fallback decoder: Pillow's ``draft`` mode (DCT scaling 1/1..1/8) +
``resize(box=...)``. Same results contract as the native decoder, slower; used
only when the compiled extension cannot be imported."""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

import numpy as np
from PIL import Image

from ..errors import Status
from ..request.geometry import compute_geometry
from ..request.spec import FrameSpec

Image.MAX_IMAGE_PIXELS = None  # smolplug applies its own max_pixels guard

# EXIF orientation -> numpy transform of the raw-frame patch into display order.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _raw_rect(o: int, W: int, H: int, g: Any) -> tuple[float, float, float, float]:
    X, Y, sw, sh = g.sx, g.sy, g.sw, g.sh
    return {
        1: (X, Y, sw, sh),
        2: (W - (X + sw), Y, sw, sh),
        3: (W - (X + sw), H - (Y + sh), sw, sh),
        4: (X, H - (Y + sh), sw, sh),
        5: (Y, X, sh, sw),
        6: (Y, H - (X + sw), sh, sw),
        7: (W - (Y + sh), H - (X + sw), sh, sw),
        8: (W - (Y + sh), X, sh, sw),
    }[o]


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JBLOCK_BYTES = 128  # 64 DCT coefficients of 2 bytes


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def multi_scan_needs(raw: bytes) -> tuple[int, int] | None:
    """(coefficient-buffer bytes, fewest bytes its scans can take) of a multi-scan JPEG, as the
    native decoder computes them (sp_jpeg.c: coefficient_bytes, min_scan_bytes); None for a
    single-scan file or headers that do not parse (Pillow then reports those)."""
    i, sof = 2, None
    while i + 4 <= len(raw) and raw[i] == 0xFF:
        marker, length = raw[i + 1], raw[i + 2] << 8 | raw[i + 3]
        seg = raw[i + 4 : i + 2 + length]
        if marker in _SOF_MARKERS:
            sof = (marker, seg)
        elif marker == 0xDA:
            return _needs(*sof, scan_components=seg[0]) if sof is not None and seg else None
        i += 2 + length
    return None


def _needs(marker: int, sof: bytes, scan_components: int) -> tuple[int, int] | None:
    if len(sof) < 6 or len(sof) < 6 + 3 * sof[5]:
        return None
    h, w, ncomp = sof[1] << 8 | sof[2], sof[3] << 8 | sof[4], sof[5]
    comps = [(sof[7 + 3 * c] >> 4, sof[7 + 3 * c] & 15) for c in range(ncomp)]
    progressive, arithmetic = marker in (0xC2, 0xC6, 0xCA, 0xCE), marker >= 0xC9
    if not comps or min(min(c) for c in comps) < 1 or not (progressive or scan_components < ncomp):
        return None
    hmax, vmax = max(c[0] for c in comps), max(c[1] for c in comps)
    coef = blocks = 0
    for hs, vs in comps:
        wb, hb = _ceil_div(w * hs, 8 * hmax), _ceil_div(h * vs, 8 * vmax)
        blocks += wb * hb
        coef += _ceil_div(wb, hs) * hs * _ceil_div(hb, vs) * vs * _JBLOCK_BYTES
    return coef, 0 if arithmetic else _ceil_div(blocks, 8)


def _result(status: Status, message: str = "", **kw: Any) -> dict[str, Any]:
    base = {
        "status": int(status),
        "warnings": 0,
        "src_w": 0,
        "src_h": 0,
        "scale_num": 8,
        "orientation": 1,
        "rows_decoded": 0,
        "cols_decoded": 0,
        "message": message,
    }
    base.update(kw)
    return base


def probe(data: Any, apply_exif: bool) -> dict[str, Any]:
    try:
        img = Image.open(io.BytesIO(bytes(data)))
        o = img.getexif().get(0x0112, 1) if apply_exif else 1
        return _result(Status.OK, src_w=img.width, src_h=img.height, orientation=o if 1 <= o <= 8 else 1)
    except Exception as exc:  # noqa: BLE001 - reported as a status
        return _result(_classify(bytes(data), exc), str(exc))


def _classify(data: bytes, exc: BaseException) -> Status:
    if not data:
        return Status.EMPTY
    if data[:1] != b"\xff" or (len(data) > 1 and data[1:2] != b"\xd8"):
        return Status.NOT_JPEG
    text = str(exc).lower()
    if "truncated" in text or "premature" in text:
        return Status.TRUNCATED
    if "unsupported" in text or "not supported" in text or "precision" in text:
        return Status.UNSUPPORTED
    return Status.CORRUPT


def decode_into(
    data: Any,
    spec: FrameSpec,
    out: np.ndarray,
    *,
    strict: bool,
    max_pixels: int | None,
    max_memory: int | None = None,
    scale_headroom: float = 1.0,
    **_ignored: Any,
) -> dict[str, Any]:
    raw = bytes(data)
    spec.fill_frame(out)
    if not raw:
        return _result(Status.EMPTY, "empty input (0 bytes)")
    if raw[:1] != b"\xff" or (len(raw) > 1 and raw[1:2] != b"\xd8"):
        return _result(Status.NOT_JPEG, f"not a JPEG file: starts with {raw[:2]!r}")
    try:
        img = Image.open(io.BytesIO(raw))
        if img.format != "JPEG":
            return _result(Status.NOT_JPEG, f"not a JPEG file ({img.format})")
        W, H = img.size
        if max_pixels and max_pixels < W * H:
            return _result(
                Status.TOO_LARGE,
                f"image of {W}x{H} = {W * H} pixels exceeds max_pixels={max_pixels}",
                src_w=W,
                src_h=H,
            )
        needs = multi_scan_needs(raw)
        if needs is not None and needs[1] > len(raw):
            return _result(
                Status.TOO_LARGE,
                f"multi-scan JPEG claims {W}x{H}: its scans need >= {needs[1]} bytes (1 bit/block), "
                f"the file has {len(raw)} (decompression-bomb guard)",
                src_w=W,
                src_h=H,
            )
        if needs is not None and max_memory and needs[0] > max_memory:
            return _result(
                Status.TOO_LARGE,
                f"decoding needs {needs[0]} bytes of coefficient buffers (multi-scan {W}x{H} JPEG), "
                f"over max_memory={max_memory}",
                src_w=W,
                src_h=H,
            )
        o = img.getexif().get(0x0112, 1) if spec.exif_orientation else 1
        o = o if 1 <= o <= 8 else 1
        t = o >= 5
        try:
            g = compute_geometry(spec, H if t else W, W if t else H)
        except ValueError as exc:
            return _result(Status.ROI_OUT_OF_BOUNDS, str(exc), src_w=W, src_h=H, orientation=o)
        rh, rw = (g.dw, g.dh) if t else (g.dh, g.dw)
        sx, sy, sw, sh = _raw_rect(o, W, H, g)
        mode = "L" if spec.colorspace == "GRAY" else "RGB"
        hr = min(scale_headroom, 1e9)
        need = (min(W, math.ceil(hr * rw * W / sw)), min(H, math.ceil(hr * rh * H / sh)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if img.mode in ("RGB", "L"):
                img.draft(mode, need)
            kx, ky = img.width / W, img.height / H
            img.load()
        if caught and strict:
            return _result(Status.CORRUPT, str(caught[0].message), src_w=W, src_h=H)
        if img.mode != mode:
            img = img.convert(mode)
        box = (sx * kx, sy * ky, (sx + sw) * kx, (sy + sh) * ky)
        resample = Image.Resampling.BOX if spec.interpolation == "area" else Image.Resampling.BILINEAR
        patch = np.asarray(img.resize((rw, rh), resample, box=box), dtype=np.float32)
        if patch.ndim == 2:
            patch = patch[:, :, None]
        if o != 1:
            patch = _ORIENT[o](patch)
        if spec.colorspace == "BGR":
            patch = patch[:, :, ::-1]
        scale, bias = spec.affine()
        patch = patch * np.asarray(scale, np.float32) + np.asarray(bias, np.float32)
        if spec.dtype == "uint8":
            patch = np.clip(np.floor(patch + 0.5), 0, 255)
        ys, xs = slice(g.dy, g.dy + g.dh), slice(g.dx, g.dx + g.dw)
        if spec.layout == "NCHW":
            out[:, ys, xs] = patch.transpose(2, 0, 1)
        else:
            out[ys, xs, :] = patch
        scale_num = round(8 * kx)
        return _result(
            Status.OK,
            src_w=W,
            src_h=H,
            scale_num=scale_num,
            orientation=o,
            rows_decoded=img.height,
            cols_decoded=img.width,
        )
    except OSError as exc:
        return _result(_classify(raw, exc), str(exc))
    except Exception as exc:  # noqa: BLE001 - any Pillow failure is a per-item status
        return _result(_classify(raw, exc), f"{type(exc).__name__}: {exc}")
