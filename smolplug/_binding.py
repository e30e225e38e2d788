"""Thin wrapper over ``smolplug._native``: the only module that touches ``lib``.

Single decodes use one native decoder per Python thread; batch decodes use one
persistent native thread pool per thread count (one libjpeg handle per pool
thread). cffi releases the GIL for every call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._native import ffi, lib  # raises ImportError when the extension is missing
from .request.geometry import Geometry
from .request.spec import FrameSpec

_RESIZE = {
    "exact": lib.SP_RESIZE_EXACT,
    "shorter-side-crop": lib.SP_RESIZE_SHORTER_CROP,
    "letterbox": lib.SP_RESIZE_LETTERBOX,
}
_COLOR = {"RGB": lib.SP_COLOR_RGB, "BGR": lib.SP_COLOR_BGR, "GRAY": lib.SP_COLOR_GRAY}
_INTERP = {"area": lib.SP_INTERP_AREA, "bilinear": lib.SP_INTERP_BILINEAR}
_LAYOUT = {"NCHW": lib.SP_LAYOUT_NCHW, "NHWC": lib.SP_LAYOUT_NHWC}
_DTYPE = {"uint8": lib.SP_DTYPE_U8, "float16": lib.SP_DTYPE_F16, "float32": lib.SP_DTYPE_F32}
#: C status names, for checking smolplug.errors.Status against the native enum
NATIVE_STATUS = {name[7:]: getattr(lib, name) for name in dir(lib) if name.startswith("SP_ERR_")} | {
    "OK": lib.SP_OK,
    "WARNING": lib.SP_WARNING,
}


def make_spec(
    spec: FrameSpec,
    *,
    strict: bool,
    max_pixels: int | None,
    fastdct: bool,
    fastupsample: bool,
    scale_headroom: float = 1.0,
    max_memory: int | None = None,
) -> Any:
    """The native ``sp_spec`` for a FrameSpec plus decoder options."""
    c = ffi.new("sp_spec *")
    c.out_h, c.out_w = spec.height, spec.width
    c.resize = _RESIZE[spec.resize]
    c.shorter_side = spec.shorter_side or 0
    if spec.roi is not None:
        c.has_roi = 1
        c.roi_x, c.roi_y, c.roi_w, c.roi_h = spec.roi
    c.colorspace = _COLOR[spec.colorspace]
    c.interp = _INTERP[spec.interpolation]
    c.layout = _LAYOUT[spec.layout]
    c.dtype = _DTYPE[spec.dtype]
    scale, bias = spec.affine()
    for i in range(spec.channels):
        c.scale[i], c.bias[i] = scale[i], bias[i]
    c.fill = spec.fill
    c.apply_exif = int(spec.exif_orientation)
    c.strict = int(strict)
    c.fast_dct = int(fastdct)
    c.fast_upsample = int(fastupsample)
    c.max_pixels = max_pixels or 0
    c.max_memory = max_memory or 0
    c.scale_headroom = min(scale_headroom, 1e9)
    return c


_local = threading.local()


def _thread_handle(kind: str, new: Any, free: Any) -> Any:
    """This thread's native handle of ``kind`` (C state is per thread; cffi releases the GIL)."""
    handle = getattr(_local, kind, None)
    if handle is None:
        raw = new()
        if raw == ffi.NULL:
            raise MemoryError(f"could not allocate a {kind}")
        handle = ffi.gc(raw, free)
        setattr(_local, kind, handle)
    return handle


def _thread_decoder() -> Any:
    return _thread_handle("jpeg_decoder", lib.sp_jpeg_decoder_new, lib.sp_jpeg_decoder_free)


def result_dict(r: Any) -> dict[str, Any]:
    return {
        "status": r.status,
        "warnings": r.warnings,
        "src_w": r.src_w,
        "src_h": r.src_h,
        "scale_num": r.scale_num,
        "orientation": r.orientation,
        "rows_decoded": r.rows_decoded,
        "cols_decoded": r.cols_decoded,
        "message": ffi.string(r.message).decode("utf-8", "replace"),
    }


def decode_into(data: Any, cspec: Any, out: np.ndarray) -> dict[str, Any]:
    """Decode one image into ``out`` (a C-contiguous frame buffer)."""
    src = ffi.from_buffer("uint8_t[]", data)
    dst = ffi.from_buffer("uint8_t[]", out, require_writable=True)
    res = ffi.new("sp_result *")
    lib.sp_jpeg_decode(_thread_decoder(), src, len(src), cspec, dst, res)
    return result_dict(res)


def probe(data: Any, apply_exif: bool) -> dict[str, Any]:
    src = ffi.from_buffer("uint8_t[]", data)
    res = ffi.new("sp_result *")
    lib.sp_jpeg_probe(_thread_decoder(), src, len(src), int(apply_exif), res)
    return result_dict(res)


class _Pools:
    """One native pool per thread count, created on first use; reset in forked children."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[int, Any] = {}

    def get(self, threads: int) -> Any:
        with self._lock:
            pool = self._pools.get(threads)
            if pool is None:
                raw = lib.sp_jpeg_batch_new(threads)
                if raw == ffi.NULL:
                    raise MemoryError(f"could not start a {threads}-thread decoder pool")
                pool = self._pools[threads] = ffi.gc(raw, lib.sp_jpeg_batch_free)
            return pool

    def forget_after_fork(self) -> None:
        # The pool threads do not exist in a forked child: drop the handles without
        # freeing them (joining would block forever).
        for pool in self._pools.values():
            ffi.gc(pool, None)
        self._pools = {}
        self._lock = threading.Lock()


_pools = _Pools()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pools.forget_after_fork)


def decode_batch_into(
    items: Sequence[Any], valid: Sequence[bool], cspec: Any, out: np.ndarray, threads: int
) -> list[dict[str, Any]]:
    """Decode ``items`` into ``out[i]`` in one native call; invalid items get an empty slot."""
    n = len(items)
    pool = _pools.get(threads)
    ptrs = ffi.new("const uint8_t *[]", max(n, 1))
    lens = ffi.new("size_t[]", max(n, 1))
    keep = []
    for i, item in enumerate(items):
        if valid[i]:
            buf = ffi.from_buffer("uint8_t[]", item)
            keep.append(buf)
            ptrs[i] = buf
            lens[i] = len(buf)
    results = ffi.new("sp_result[]", max(n, 1))
    dst = ffi.from_buffer("uint8_t[]", out, require_writable=True)
    stride = out.strides[0] if n else 0
    rc = lib.sp_jpeg_decode_batch(pool, n, ptrs, lens, cspec, dst, stride, results)
    if rc < 0:
        raise RuntimeError(f"native batch decode rejected its arguments (code {-rc})")
    del keep
    return [result_dict(results[i]) for i in range(n)]


def native_geometry(spec: FrameSpec, w: int, h: int) -> Geometry | int:
    """Geometry computed by the C code (for cross-checking the Python twin)."""
    cspec = make_spec(spec, strict=True, max_pixels=None, fastdct=False, fastupsample=False)
    g = ffi.new("sp_geometry *")
    rc = lib.sp_compute_geometry(cspec, w, h, g)
    if rc != 0:
        return int(rc)
    return Geometry(g.sx, g.sy, g.sw, g.sh, g.dx, g.dy, g.dw, g.dh)


# --- decoded video frames -------------------------------------------------------------------

#: PyAV pixel format name -> (native format, full range by format)
PIX_FORMATS = {
    "yuv420p": (lib.SP_PIX_YUV420P, False),
    "yuvj420p": (lib.SP_PIX_YUV420P, True),
    "nv12": (lib.SP_PIX_NV12, False),
    "yuv422p": (lib.SP_PIX_YUV422P, False),
    "yuvj422p": (lib.SP_PIX_YUV422P, True),
    "yuv444p": (lib.SP_PIX_YUV444P, False),
    "yuvj444p": (lib.SP_PIX_YUV444P, True),
    "yuv440p": (lib.SP_PIX_YUV440P, False),
    "yuvj440p": (lib.SP_PIX_YUV440P, True),
    "gray": (lib.SP_PIX_GRAY8, True),
    "rgb24": (lib.SP_PIX_RGB24, True),
}
AVCOL_SPC_BT709 = 1  # FFmpeg's AVColorSpace; anything else is treated as BT.601 (swscale's default)
AVCOL_RANGE_JPEG = 2


def _thread_converter() -> Any:
    return _thread_handle("frame_converter", lib.sp_frame_converter_new, lib.sp_frame_converter_free)


def convert_planes(
    planes: Sequence[Any],
    linesizes: Sequence[int],
    fmt: int,
    width: int,
    height: int,
    full_range: bool,
    bt709: bool,
    cspec: Any,
    out: np.ndarray,
    orientation: int = 1,
) -> dict[str, Any]:
    """Convert one frame given as plane buffers (no copies) into ``out``, shown under EXIF
    ``orientation`` (1..8; geometry and ROI in display coordinates)."""
    p = ffi.new("sp_planes *")
    p.format, p.width, p.height, p.orientation = fmt, width, height, orientation
    p.full_range, p.matrix = int(full_range), lib.SP_MATRIX_BT709 if bt709 else lib.SP_MATRIX_BT601
    keep = []
    for i, (buf, ls) in enumerate(zip(planes, linesizes, strict=True)):
        b = ffi.from_buffer("uint8_t[]", buf)
        keep.append(b)
        p.data[i], p.linesize[i] = b, ls
    dst = ffi.from_buffer("uint8_t[]", out, require_writable=True)
    res = ffi.new("sp_result *")
    lib.sp_convert_frame(_thread_converter(), p, cspec, dst, res)
    del keep
    return result_dict(res)
