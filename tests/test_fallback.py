"""Without the compiled extension smolplug falls back to Pillow's draft mode, warns once, and
keeps the same contract (shapes, statuses, errors)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from smolplug import FrameSpec, Status
from smolplug.jpeg import _pillow as fallback

from .conftest import encode, psnr, reference, synthetic_rgb

pytest.importorskip("smolplug._binding", reason="native extension not built")


def test_fallback_selected_and_warns_once():
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["smolplug._native"] = None      # the extension is not importable
        import smolplug
        from smolplug import jpeg
        assert jpeg.backend() == "pillow", jpeg.backend()
        assert "smolplug._native" in jpeg.native_error()
        import io
        from PIL import Image
        buf = io.BytesIO(); Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "JPEG")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            a = smolplug.decode_jpeg(buf.getvalue(), smolplug.FrameSpec(24, 32))
            b = smolplug.decode_jpeg_batch([buf.getvalue(), b""], smolplug.FrameSpec(24, 32), on_error="skip")
        msgs = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
        assert len(msgs) == 1 and "Pillow fallback" in msgs[0], msgs
        assert a.shape == (3, 24, 32) and b.status.tolist() == [0, 2], b.status
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize(
    "spec",
    [
        FrameSpec(60, 80),
        FrameSpec.imagenet(),
        FrameSpec(30, 30, roi=(20, 10, 100, 90), layout="NHWC"),
        FrameSpec(50, 50, resize="letterbox", colorspace="GRAY", dtype="uint8"),
    ],
    ids=["exact", "imagenet", "roi-nhwc", "letterbox-gray"],
)
def test_fallback_agrees_with_reference(spec):
    data = encode(synthetic_rgb(300, 200))
    out = np.empty(spec.frame_shape, spec.numpy_dtype)
    res = fallback.decode_into(data, spec, out, strict=True, max_pixels=None)
    assert res["status"] == Status.OK
    ref = reference(data, spec)
    scale = np.asarray(spec.affine()[0], np.float32)
    scale = scale[:, None, None] if spec.layout == "NCHW" else scale
    assert psnr(out / scale, ref / scale) >= 33


def test_fallback_statuses():
    spec = FrameSpec(8, 8)
    out = np.empty(spec.frame_shape, np.float32)
    good = encode(synthetic_rgb(64, 64))
    assert fallback.decode_into(b"", spec, out, strict=True, max_pixels=None)["status"] == Status.EMPTY
    assert (
        fallback.decode_into(b"GIF89a", spec, out, strict=True, max_pixels=None)["status"] == Status.NOT_JPEG
    )
    assert (
        fallback.decode_into(good[:200], spec, out, strict=True, max_pixels=None)["status"]
        == Status.TRUNCATED
    )
    assert fallback.decode_into(good, spec, out, strict=True, max_pixels=100)["status"] == Status.TOO_LARGE
    roi = FrameSpec(8, 8, roi=(60, 60, 10, 10))
    assert (
        fallback.decode_into(good, roi, out, strict=True, max_pixels=None)["status"]
        == Status.ROI_OUT_OF_BOUNDS
    )
