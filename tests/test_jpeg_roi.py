"""Region-of-interest decoding agrees with cropping after a full decode, and decodes less."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug import FrameSpec

from .conftest import encode, full_decode, psnr, reference, synthetic_rgb

W, H = 331, 247
IMGS = {sub: encode(synthetic_rgb(W, H, seed=3), subsampling=sub) for sub in ("4:4:4", "4:2:2", "4:2:0")}
IMGS["progressive"] = encode(synthetic_rgb(W, H, seed=3), progressive=True)

ROIS = [
    (0, 0, 40, 30),  # top-left corner
    (W - 57, H - 33, 57, 33),  # bottom-right corner
    (0, 100, W, 20),  # full-width strip
    (150, 0, 17, H),  # full-height strip
    (123, 77, 1, 1),  # one pixel
    (64, 32, 128, 96),  # MCU-aligned
    (10.5, 20.25, 100.5, 80.75),  # fractional
]


INTEGER_ROIS = [r for r in ROIS if all(float(v).is_integer() for v in r)]


@pytest.mark.parametrize("kind", sorted(IMGS))
@pytest.mark.parametrize("roi", INTEGER_ROIS, ids=[str(r) for r in INTEGER_ROIS])
def test_roi_at_native_size_equals_crop_of_full_decode(kind, roi):
    data = IMGS[kind]
    x, y, w, h = (int(v) for v in roi)
    out = smolplug.decode_jpeg(data, FrameSpec(h, w, roi=roi, dtype="uint8", layout="NHWC"))
    crop = np.asarray(full_decode(data))[y : y + h, x : x + w]
    assert np.array_equal(out, crop)


@pytest.mark.parametrize("kind", sorted(IMGS))
@pytest.mark.parametrize("roi", ROIS, ids=[str(r) for r in ROIS])
@pytest.mark.parametrize("out_hw", [(24, 32), (7, 5), (64, 64)])
def test_roi_resized_matches_crop_then_resize(kind, roi, out_hw):
    data = IMGS[kind]
    spec = FrameSpec(*out_hw, roi=roi)
    got = smolplug.decode_jpeg(data, spec)
    assert psnr(got, reference(data, spec)) >= 33


def test_roi_decodes_fewer_rows_and_columns(photo_files):
    data = max(photo_files, key=lambda p: p.stat().st_size).read_bytes()
    Wp, Hp = Image.open(io.BytesIO(data)).size
    roi = (Wp // 2, Hp // 3, Wp // 4, Hp // 4)
    spec = FrameSpec(64, 64, roi=roi)
    b = smolplug.decode_jpeg_batch([data], spec)
    scale = int(b.scales[0])
    assert b.rows_decoded[0] < Hp * scale / 8 / 2  # skipped rows above, stopped early below
    assert psnr(b.data[0], reference(data, spec)) >= 30


@pytest.mark.parametrize("policy", ["exact", "shorter-side-crop", "letterbox"])
def test_roi_with_every_resize_policy(policy):
    data = IMGS["4:2:0"]
    spec = FrameSpec(50, 70, resize=policy, roi=(30, 40, 200, 150))
    assert psnr(smolplug.decode_jpeg(data, spec), reference(data, spec)) >= 33


SEEDS = Path(__file__).resolve().parent / "fuzz" / "seeds"


@pytest.mark.parametrize("name", ["sampling_2x4", "sampling_4x2"])
@pytest.mark.parametrize("m", [2, 4, 6])
def test_cropped_columns_with_2x4_and_4x2_chroma(name, m):
    """Chroma subsampled 2x4 or 4x2 relative to luma, DCT-scaled: libjpeg-turbo 2.x sizes the
    cropped chroma rows without the IDCT scaling that does half of their upsampling, so a column
    crop left part of every row uninitialised (found by the fuzzer). The ROI at scale m/8 must equal
    the same region of the whole image at scale m/8."""
    data = (SEEDS / f"{name}.jpg").read_bytes()  # 64x48
    x, y, w, h = 16, 8, 32, 24
    k = m / 8
    full = smolplug.decode_jpeg(data, FrameSpec(int(48 * k), int(64 * k), dtype="uint8", layout="NHWC"))
    roi = smolplug.decode_jpeg(
        data, FrameSpec(int(h * k), int(w * k), roi=(x, y, w, h), dtype="uint8", layout="NHWC")
    )
    b = smolplug.decode_jpeg_batch([data], FrameSpec(int(h * k), int(w * k), roi=(x, y, w, h)))
    assert int(b.scales[0]) == m
    assert np.array_equal(roi, full[int(y * k) : int((y + h) * k), int(x * k) : int((x + w) * k)])
