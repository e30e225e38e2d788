"""Deterministic photo-like sample JPEGs, so demos and benchmarks run on a fresh
machine with no data set: multi-octave smooth noise + gradients + edges, encoded
with Pillow in the variants real collections contain (baseline/progressive,
4:2:0/4:4:4)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# (width, height, progressive, subsampling) — sizes of typical photo collections
SAMPLE_LAYOUT = [
    (1280, 960, False, 2),
    (1024, 768, True, 2),
    (1600, 1200, False, 2),
    (800, 600, True, 0),
    (1280, 720, False, 2),
    (640, 480, False, 0),
    (1920, 1080, True, 2),
    (500, 375, True, 2),
    (1024, 683, False, 2),
    (2048, 1536, False, 2),
    (768, 1024, True, 2),
    (512, 512, True, 2),
]


def synthetic_image(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    for octave, amp in ((4, 90.0), (16, 45.0), (64, 22.0), (256, 10.0)):
        small = rng.random((max(2, height * octave // 1024), max(2, octave * width // 1024), 3)) * 255
        layer = Image.fromarray(small.astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
        acc += (np.asarray(layer, np.float32) - 127.5) * (amp / 127.5)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    acc += 128 + 40 * np.sin(xx / width * 3.1)[..., None] * np.array([1.0, 0.6, 0.2], np.float32)
    # a few hard-edged objects so the codec sees real edges
    for _ in range(6):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        r = int(rng.integers(min(width, height) // 16, min(width, height) // 4))
        acc[(xx - x0) ** 2 + (yy - y0) ** 2 < r * r] = rng.integers(0, 255, 3)
    acc += rng.normal(0, 4, acc.shape).astype(np.float32)  # sensor noise
    return Image.fromarray(np.clip(acc, 0, 255).astype(np.uint8))


def sample_jpegs(
    count: int = len(SAMPLE_LAYOUT), seed: int = 0, quality: int = 90
) -> list[tuple[str, bytes]]:
    """``count`` (name, JPEG bytes) pairs, identical on every machine for a given seed."""
    out = []
    for i in range(count):
        w, h, prog, sub = SAMPLE_LAYOUT[i % len(SAMPLE_LAYOUT)]
        buf = io.BytesIO()
        synthetic_image(w, h, seed + i).save(buf, "JPEG", quality=quality, progressive=prog, subsampling=sub)
        kind = "prog" if prog else "base"
        out.append((f"sample_{i:02d}_{w}x{h}_{kind}_{'420' if sub == 2 else '444'}.jpg", buf.getvalue()))
    return out
