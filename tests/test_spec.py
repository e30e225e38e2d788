import dataclasses
import os

import numpy as np
import pytest

import smolplug
from smolplug import FrameRequest, FrameSpec, SpecError
from smolplug.request.spec import IMAGENET_MEAN, IMAGENET_STD, machine_memory, max_output_bytes


def test_defaults_and_shapes():
    s = FrameSpec(48, 64)
    assert s.frame_shape == (3, 48, 64)
    assert s.batch_shape(5) == (5, 3, 48, 64)
    assert s.replace(layout="NHWC").frame_shape == (48, 64, 3)
    assert s.replace(colorspace="GRAY").frame_shape == (1, 48, 64)
    assert s.numpy_dtype == np.float32
    assert s.allocate(2).shape == (2, 3, 48, 64)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FrameSpec(8, 8).height = 9  # type: ignore[misc]


def test_imagenet_preset_affine():
    s = FrameSpec.imagenet()
    assert (s.height, s.width, s.resize, s.shorter_side) == (224, 224, "shorter-side-crop", 256)
    scale, bias = s.affine()
    for c in range(3):
        # (x/255 - mean) / std
        x = 200.0
        assert x * scale[c] + bias[c] == pytest.approx((x / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])


def test_mean_std_broadcast_and_raw_scale():
    s = FrameSpec(4, 4, mean=127, std=128, value_scale=1.0)
    assert s.mean == (127.0,) * 3 and s.std == (128.0,) * 3
    scale, bias = s.affine()
    assert 255 * scale[0] + bias[0] == pytest.approx((255 - 127) / 128)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(height=0, width=4), "height"),
        (dict(height=4, width=-1), "width"),
        (dict(height=4.5, width=4), "height"),
        (dict(height=True, width=4), "height"),
        (dict(height=4, width=70000), "width"),
        (dict(height=4, width=4, resize="crop"), "resize"),
        (dict(height=4, width=4, colorspace="YUV"), "colorspace"),
        (dict(height=4, width=4, layout="CHW"), "layout"),
        (dict(height=4, width=4, dtype="float64"), "dtype"),
        (dict(height=4, width=4, interpolation="cubic"), "interpolation"),
        (dict(height=4, width=4, shorter_side=8), "shorter_side"),
        (dict(height=4, width=4, resize="shorter-side-crop", shorter_side=0), "shorter_side"),
        (dict(height=4, width=4, roi=(0, 0, 10)), "roi"),
        (dict(height=4, width=4, roi=(0, 0, 0, 10)), "roi"),
        (dict(height=4, width=4, roi=(-1, 0, 5, 5)), "roi"),
        (dict(height=4, width=4, roi=(0, 0, float("nan"), 5)), "roi"),
        (dict(height=4, width=4, mean=(0.5,) * 3), "together"),
        (dict(height=4, width=4, mean=(0.5, 0.5), std=(1, 1)), "mean has 2"),
        (dict(height=4, width=4, mean=0.5, std=0), "non-zero"),
        (dict(height=4, width=4, mean=0.5, std=1, dtype="uint8"), "uint8"),
        (dict(height=4, width=4, value_scale=0), "value_scale"),
        (dict(height=4, width=4, fill=300), "fill"),
        (dict(height=4, width=4, exif_orientation=1), "exif_orientation"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(SpecError, match=match):
        FrameSpec(**kwargs)


def test_spec_error_is_value_error():
    with pytest.raises(ValueError):
        FrameSpec(0, 1)


# --- output guard: refuse a buffer larger than the machine before numpy tries -----------------

HUGE = FrameSpec(65500, 65500)  # one float32 RGB frame: 51,483,000,000 bytes


def test_huge_output_is_refused_naming_the_bytes(monkeypatch):
    monkeypatch.setenv("SMOLPLUG_MAX_OUTPUT_BYTES", str(16 * 2**30))
    with pytest.raises(SpecError, match=r"need 51,483,000,000 bytes \(47\.9 GiB\).*17,179,869,184-byte"):
        HUGE.allocate(1)
    with pytest.raises(SpecError, match="51,483,000,000 bytes"):
        smolplug.decode_jpeg(b"\xff\xd8", HUGE)
    with pytest.raises(SpecError, match="102,966,000,000 bytes"):
        smolplug.decode_jpeg_batch([b"\xff\xd8"] * 2, HUGE, on_error="skip")


def test_guard_covers_custom_allocators_and_readers(monkeypatch, jpeg_dir):
    monkeypatch.setenv("SMOLPLUG_MAX_OUTPUT_BYTES", "1000000")
    calls = []

    def allocator(shape, dtype):
        calls.append(shape)
        return np.empty(shape, dtype)

    spec = FrameSpec(200, 200)  # 480,000 bytes a frame
    assert FrameRequest(spec, allocator=allocator).allocate(2).shape == (2, 3, 200, 200)
    with pytest.raises(SpecError, match="1,440,000 bytes"):
        FrameRequest(spec, allocator=allocator).allocate(3)
    assert calls == [(2, 3, 200, 200)]  # the over-limit request never reached the allocator
    with pytest.raises(SpecError, match="output limit"):
        smolplug.open_frames(jpeg_dir, FrameRequest(spec, batch_size=4))


def test_default_limit_is_this_machines_memory(monkeypatch):
    monkeypatch.delenv("SMOLPLUG_MAX_OUTPUT_BYTES", raising=False)
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < max_output_bytes() == machine_memory() <= physical
    if physical < HUGE.frame_bytes:  # the 48 GiB frame that used to die in numpy
        with pytest.raises(SpecError, match="51,483,000,000 bytes"):
            HUGE.allocate(1)
    assert FrameSpec(1080, 1920).allocate(4).shape == (4, 3, 1080, 1920)


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_bad_output_limit_is_a_spec_error(monkeypatch, value):
    monkeypatch.setenv("SMOLPLUG_MAX_OUTPUT_BYTES", value)
    with pytest.raises(SpecError, match="SMOLPLUG_MAX_OUTPUT_BYTES"):
        FrameSpec(8, 8).allocate(1)


def test_frame_bytes():
    assert FrameSpec(10, 20).frame_bytes == 3 * 10 * 20 * 4
    assert FrameSpec(10, 20, colorspace="GRAY", dtype="uint8").frame_bytes == 200
    assert FrameSpec(10, 20, dtype="float16", layout="NHWC").frame_bytes == 1200
