"""The peer JPEG preprocessing pipelines the benchmark runs beside smolplug (Pillow, Pillow with
draft mode, OpenCV, simplejpeg and its bare scaled decode), all writing the same output:
shorter side 256 -> centre crop 224 -> ImageNet mean/std -> float32 NCHW; and pinning the
process to one core for them."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from ..request.spec import IMAGENET_MEAN, IMAGENET_STD, FrameSpec

SIZE, RESIZE = 224, 256
BATCH = 64  # thread-scaling batch size
SPEC = FrameSpec.imagenet(SIZE, RESIZE)
_SCALE = (np.float32(1 / 255) / np.asarray(IMAGENET_STD, np.float32)).astype(np.float32)
_BIAS = (-np.asarray(IMAGENET_MEAN, np.float32) / np.asarray(IMAGENET_STD, np.float32)).astype(np.float32)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the SOF marker: the cheap header read every peer needs."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seglen = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seglen
    raise ValueError("no SOF marker")


def _short_side_dims(w: int, h: int, resize: int = RESIZE) -> tuple[int, int]:
    """torchvision Resize(resize) output size for a w x h image."""
    return (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)


def _crop_offsets(w: int, h: int, cw: int = SIZE, ch: int = SIZE) -> tuple[int, int]:
    """torchvision CenterCrop((ch, cw)) offsets in a w x h image."""
    return int(round((w - cw) / 2.0)), int(round((h - ch) / 2.0))


def _normalize_into(rgb: np.ndarray, dst: np.ndarray) -> None:
    """HWC uint8 RGB crop -> normalised CHW float32, the numpy way (ToTensor + Normalize)."""
    t = rgb.astype(np.float32)
    t *= _SCALE
    t += _BIAS
    dst[...] = t.transpose(2, 0, 1)


def pillow_pipeline(data: bytes, dst: np.ndarray, draft: bool = False) -> None:
    img = Image.open(io.BytesIO(data))
    if draft:
        w, h = img.size
        img.draft("RGB", _short_side_dims(w, h))
    img = img.convert("RGB")
    nw, nh = _short_side_dims(*img.size)
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    x, y = _crop_offsets(nw, nh)
    _normalize_into(np.asarray(img.crop((x, y, x + SIZE, y + SIZE))), dst)


def _reduction(w: int, h: int) -> int:
    """Largest OpenCV/simplejpeg reduction 1, 2, 4, 8 keeping the shorter side >= 256."""
    s = min(w, h)
    f = 1
    while f < 8 and s // (f * 2) >= RESIZE:
        f *= 2
    return f


def opencv_pipeline(data: bytes, dst: np.ndarray) -> None:
    import cv2

    w, h = jpeg_size(data)
    flag = {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }[_reduction(w, h)]
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    nw, nh = _short_side_dims(bgr.shape[1], bgr.shape[0])
    bgr = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    x, y = _crop_offsets(nw, nh)
    _normalize_into(cv2.cvtColor(bgr[y : y + SIZE, x : x + SIZE], cv2.COLOR_BGR2RGB), dst)


def simplejpeg_pipeline(data: bytes, dst: np.ndarray) -> None:
    import cv2
    import simplejpeg

    w, h = jpeg_size(data)
    nw, nh = _short_side_dims(w, h)
    rgb = simplejpeg.decode_jpeg(data, "RGB", min_height=nh, min_width=nw)
    nw, nh = _short_side_dims(rgb.shape[1], rgb.shape[0])
    rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    x, y = _crop_offsets(nw, nh)
    _normalize_into(rgb[y : y + SIZE, x : x + SIZE], dst)


def simplejpeg_floor(data: bytes, dst: np.ndarray) -> None:
    """The floor: simplejpeg's bare DCT-scaled decode, no resize, no normalisation."""
    import simplejpeg

    w, h = jpeg_size(data)
    nw, nh = _short_side_dims(w, h)
    simplejpeg.decode_jpeg(data, "RGB", min_height=nh, min_width=nw)


def _available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def peers() -> list[tuple[str, Callable[[bytes, np.ndarray], None], str | None]]:
    """(name, per-image pipeline, missing dependency or None)."""
    cv2_missing = None if _available("cv2") else "opencv-python-headless"
    sj_missing = None if _available("simplejpeg") else "simplejpeg"
    return [
        ("pillow (torchvision-style)", pillow_pipeline, None),
        ("pillow draft", lambda d, o: pillow_pipeline(d, o, draft=True), None),
        ("opencv IMREAD_REDUCED + resize", opencv_pipeline, cv2_missing),
        ("simplejpeg min_size + resize", simplejpeg_pipeline, sj_missing or cv2_missing),
        ("floor: simplejpeg scaled decode only", simplejpeg_floor, sj_missing),
    ]


@contextmanager
def pinned_to_one_core() -> Iterator[int | None]:
    """Pin the process (all its threads) to one CPU for the duration."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)
