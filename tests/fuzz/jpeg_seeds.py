"""The valid JPEGs the fuzzer mutates (and mixes into batches): small, so a million decodes fit in
minutes, and between them covering every layout the decoder handles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from .jpeg_format import DHT, exif_app1, parse, write

HERE = Path(__file__).resolve().parent
FIXTURE_DIRS = (HERE / "seeds", HERE.parent / "data")


def _picture(w: int, h: int, seed: int) -> Image.Image:
    """Gradients, a hard-edged block and noise: compresses like a photo at any size."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / max(w - 1, 1) * 255, yy / max(h - 1, 1) * 255, 128 + 90 * np.sin(xx / 5.0)], -1)
    img[h // 4 : h // 2 + 1, w // 3 : 2 * w // 3 + 1] = (220, 30, 80)
    img += rng.normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _encode(img: Image.Image, **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **opts)
    return buf.getvalue()


def _without_dht(data: bytes) -> bytes:
    jpeg = parse(data)
    assert jpeg is not None
    jpeg.segments = [s for s in jpeg.segments if s.marker != DHT]
    return write(jpeg)


def _with_exif(data: bytes, orientation: int) -> bytes:
    return (
        data[:2]
        + b"\xff\xe1"
        + (len(exif_app1(orientation)) + 2).to_bytes(2, "big")
        + exif_app1(orientation)
        + data[2:]
    )


def generated() -> dict[str, bytes]:
    pic = _picture(40, 30, 0)
    return {
        "baseline-420": _encode(pic, quality=85),  # libjpeg's standard Huffman tables
        "mjpeg-420": _without_dht(_encode(_picture(32, 24, 1), quality=75)),
        "optimised-444": _encode(pic, quality=95, subsampling="4:4:4", optimize=True),
        "baseline-422": _encode(_picture(37, 21, 2), quality=60, subsampling="4:2:2"),
        "progressive-420": _encode(pic, quality=85, progressive=True),
        "progressive-444": _encode(_picture(23, 35, 3), quality=90, progressive=True, subsampling="4:4:4"),
        "gray": _encode(pic.convert("L"), quality=85),
        "gray-progressive": _encode(_picture(33, 17, 4).convert("L"), quality=70, progressive=True),
        "cmyk": _encode(_picture(24, 16, 5).convert("CMYK"), quality=85),
        "exif-6": _with_exif(_encode(_picture(36, 20, 6), quality=80), 6),
        "exif-5-progressive": _with_exif(_encode(_picture(20, 28, 7), quality=80, progressive=True), 5),
        "one-pixel": _encode(Image.new("RGB", (1, 1), (200, 10, 10))),
        "odd-17x9": _encode(_picture(17, 9, 8), quality=100),
        "low-quality": _encode(_picture(48, 40, 9), quality=5),
    }


def seeds() -> dict[str, bytes]:
    """name -> JPEG bytes: the generated ones, then the committed fixtures (libjpeg-made files
    Pillow cannot write: arithmetic coding, one scan per component, restart intervals, ...)."""
    out = generated()
    for d in FIXTURE_DIRS:
        for path in sorted(d.glob("*.jpg")):
            out[f"{d.name}/{path.stem}"] = path.read_bytes()
    return out
