"""EXIF orientation: off by default (as Pillow, simplejpeg); when on, output equals Pillow's
exif_transpose followed by the same request (ROI in display coordinates)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug import FrameSpec

from .conftest import psnr, reference, synthetic_rgb


def with_orientation(o: int, w: int = 203, h: int = 131) -> bytes:
    img = synthetic_rgb(w, h, seed=o)
    exif = Image.Exif()
    exif[0x0112] = o
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, exif=exif.tobytes(), subsampling="4:4:4")
    return buf.getvalue()


@pytest.mark.parametrize("o", range(1, 9))
def test_probe_reads_orientation(o):
    assert smolplug.probe_jpeg(with_orientation(o)).orientation == o


@pytest.mark.parametrize("o", range(1, 9))
@pytest.mark.parametrize(
    "spec",
    [
        FrameSpec(131, 203, dtype="uint8"),  # native size when not transposed
        FrameSpec(60, 90),
        FrameSpec(40, 40, resize="shorter-side-crop", shorter_side=48),
        FrameSpec(30, 20, roi=(10, 20, 60, 90), layout="NHWC"),
    ],
    ids=["native", "exact", "crop", "roi-nhwc"],
)
def test_orientation_applied(o, spec):
    data = with_orientation(o)
    disp = Image.open(io.BytesIO(data))
    from PIL import ImageOps

    dw, dh = ImageOps.exif_transpose(disp).size
    if spec.roi and (spec.roi[0] + spec.roi[2] > dw or spec.roi[1] + spec.roi[3] > dh):
        pytest.skip("ROI outside the transposed image")
    s = spec.replace(exif_orientation=True)
    got = smolplug.decode_jpeg(data, s)
    ref = reference(data, s, transpose_exif=True)
    if s.dtype == "uint8" and (dh, dw) == (s.height, s.width):
        assert np.array_equal(got, ref)
    else:
        assert psnr(got, ref) >= 40


@pytest.mark.parametrize("o", [3, 6])
def test_orientation_ignored_by_default(o):
    data = with_orientation(o)
    spec = FrameSpec(60, 90)
    assert psnr(smolplug.decode_jpeg(data, spec), reference(data, spec)) >= 40
