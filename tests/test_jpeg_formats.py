"""Every JPEG variant the decoder must handle, checked against Pillow's decode."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug import FrameSpec

from .conftest import FIXTURES, encode, psnr, reference, synthetic_rgb

IMG = synthetic_rgb(157, 93)  # odd, not MCU-aligned


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0"])
def test_subsampling_and_progressive(progressive, subsampling):
    data = encode(IMG, progressive=progressive, subsampling=subsampling)
    for spec in (FrameSpec(93, 157, dtype="uint8"), FrameSpec(40, 60), FrameSpec(17, 23)):
        out = smolplug.decode_jpeg(data, spec)
        assert psnr(out, reference(data, spec)) >= 35


@pytest.mark.parametrize(
    "name", ["yuv440.jpg", "yuv422.jpg", "arithmetic.jpg", "restart.jpg", "restart_progressive.jpg"]
)
def test_fixtures_made_by_libjpeg_tools(name):
    data = (FIXTURES / name).read_bytes()
    same = FrameSpec(75, 100, dtype="uint8")
    assert np.array_equal(smolplug.decode_jpeg(data, same), reference(data, same))
    for spec in (FrameSpec(30, 40), FrameSpec(10, 13, roi=(20, 10, 60, 50))):
        out = smolplug.decode_jpeg(data, spec)
        # 4:2:2 / 4:4:0 chroma is upsampled at the DCT-scaled size (libjpeg's v6.2 API scales
        # chroma IDCTs only for 4:2:0); measured worst 29.7 dB on the fixture's hard red edge
        assert psnr(out, reference(data, spec)) >= 29, spec


def test_grayscale_source_to_rgb_and_gray():
    data = encode(IMG.convert("L"))
    rgb = smolplug.decode_jpeg(data, FrameSpec(93, 157, dtype="uint8"))
    assert np.array_equal(rgb[0], rgb[1]) and np.array_equal(rgb[1], rgb[2])
    gray = smolplug.decode_jpeg(data, FrameSpec(93, 157, colorspace="GRAY", dtype="uint8"))
    assert np.abs(gray[0].astype(int) - np.asarray(Image.open(io.BytesIO(data)))).max() <= 1


def test_color_source_to_gray_is_luma():
    data = encode(IMG, subsampling="4:4:4")
    spec = FrameSpec(93, 157, colorspace="GRAY")
    assert psnr(smolplug.decode_jpeg(data, spec), reference(data, spec)) >= 40


def test_bgr_is_rgb_reversed():
    data = encode(IMG)
    rgb = smolplug.decode_jpeg(data, FrameSpec(50, 60))
    bgr = smolplug.decode_jpeg(data, FrameSpec(50, 60, colorspace="BGR"))
    assert np.array_equal(rgb[::-1], bgr)


@pytest.mark.parametrize("mode", ["CMYK"])
def test_cmyk_adobe_inverted(mode):
    cmyk = IMG.convert("CMYK")
    data = encode(cmyk)  # Pillow writes Adobe-marked, inverted CMYK
    assert b"Adobe" in data
    spec = FrameSpec(93, 157)
    out = smolplug.decode_jpeg(data, spec)
    assert psnr(out, reference(data, spec)) >= 40
    gray = smolplug.decode_jpeg(data, FrameSpec(93, 157, colorspace="GRAY"))
    assert psnr(gray, reference(data, FrameSpec(93, 157, colorspace="GRAY"))) >= 35


def _ycck_jpeg() -> bytes:
    """A real YCCK JPEG: (Y, Cb, Cr, K) planes written through Pillow's CMYK encoder, then the
    Adobe APP14 transform flag set to 2, so libjpeg decodes YCC->RGB->CMY plus K."""
    rgb = np.asarray(IMG, np.float32)
    k = np.clip(np.asarray(IMG.convert("L"), np.float32) * 0.8 + 40, 0, 255)
    r, g, b = (255 - rgb[..., i] for i in range(3))  # R_ycc = 255 - raw C, as libjpeg's ycck->cmyk undoes
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    planes = np.clip(np.stack([y, cb, cr, k], -1) + 0.5, 0, 255).astype(np.uint8)
    # Pillow stores CMYK inverted (Adobe convention): pre-invert so the stored samples are Y, Cb, Cr, K
    data = bytearray(encode(Image.fromarray(255 - planes, "CMYK"), quality=95))
    pos = data.index(b"Adobe")  # APP14 payload: "Adobe", version(2), flags0(2), flags1(2), transform(1)
    assert data[pos + 11] == 0
    data[pos + 11] = 2
    return bytes(data)


def test_ycck():
    data = _ycck_jpeg()
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    spec = FrameSpec(93, 157)
    out = smolplug.decode_jpeg(data, spec)
    assert psnr(out, reference(data, spec)) >= 40
    # and it is really YCCK: read as plain CMYK (transform 0) it would differ wildly
    plain = bytearray(data)
    plain[plain.index(b"Adobe") + 11] = 0
    assert psnr(smolplug.decode_jpeg(bytes(plain), spec), out) < 20


@pytest.mark.parametrize("w, h", [(1, 1), (1, 9), (9, 1), (8, 8), (15, 17), (16, 16), (33, 7)])
@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:0"])
def test_tiny_and_odd_sizes(w, h, subsampling):
    data = encode(synthetic_rgb(w, h), subsampling=subsampling)
    same = smolplug.decode_jpeg(data, FrameSpec(h, w, dtype="uint8"))
    assert np.array_equal(same, reference(data, FrameSpec(h, w, dtype="uint8")))  # identity: bit-exact
    up = FrameSpec(64, 64)
    assert psnr(smolplug.decode_jpeg(data, up), reference(data, up)) >= 50
    down = FrameSpec(5, 7)
    out = smolplug.decode_jpeg(data, down)
    assert out.shape == down.frame_shape
    # one-MCU images at a 7/8 DCT scale are the worst case measured (29.1 dB)
    assert psnr(out, reference(data, down)) >= 28


@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_dtypes_and_layouts_are_consistent(dtype, layout):
    data = encode(IMG)
    base = smolplug.decode_jpeg(data, FrameSpec(41, 67))
    out = smolplug.decode_jpeg(data, FrameSpec(41, 67, dtype=dtype, layout=layout))
    assert out.dtype == np.dtype(dtype)
    if layout == "NHWC":
        out = out.transpose(2, 0, 1)
    tol = {"uint8": 0.5001, "float16": 0.125, "float32": 0}[dtype]
    assert np.abs(out.astype(np.float32) - base).max() <= tol


def test_normalisation_matches_numpy():
    data = encode(IMG)
    raw = smolplug.decode_jpeg(data, FrameSpec(41, 67))
    spec = FrameSpec(41, 67, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), dtype="float16")
    out = smolplug.decode_jpeg(data, spec).astype(np.float32)
    want = (raw / 255 - np.asarray(spec.mean)[:, None, None]) / np.asarray(spec.std)[:, None, None]
    assert np.abs(out - want).max() < 0.01


def test_letterbox_fill_is_normalised():
    data = encode(synthetic_rgb(200, 100))
    spec = FrameSpec(100, 100, resize="letterbox", fill=114, mean=127, std=128, value_scale=1.0)
    out = smolplug.decode_jpeg(data, spec)
    assert np.allclose(out[:, :25], (114 - 127) / 128) and np.allclose(out[:, 75:], (114 - 127) / 128)
    assert psnr(out * 128 + 127, reference(data, spec) * 128 + 127) >= 35


def test_fastdct_and_fastupsample_are_close():
    data = encode(IMG)
    spec = FrameSpec(93, 157)
    exact = smolplug.decode_jpeg(data, spec)
    fast = smolplug.decode_jpeg(data, spec, fastdct=True, fastupsample=True)
    assert 30 <= psnr(exact, fast) < np.inf
