"""Bad input: typed errors for single decodes, per-item statuses for batches, nothing printed,
nothing dropped."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug import (
    CorruptDataError,
    DecodeError,
    DecodeWarning,
    DecompressionBombError,
    EmptyInputError,
    FrameSpec,
    InvalidInputError,
    NotJPEGError,
    RegionOutOfBoundsError,
    SmolplugError,
    SpecError,
    Status,
    TruncatedError,
    UnsupportedFormatError,
)

from .conftest import encode, synthetic_rgb

SPEC = FrameSpec(32, 48)
GOOD = encode(synthetic_rgb(160, 120), subsampling="4:2:0")
PROG = encode(synthetic_rgb(160, 120), progressive=True)


def _sof(data: bytes) -> int:
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = data.find(marker)
        if i > 0:
            return i
    raise AssertionError("no SOF")


def patched_sof(
    data: bytes,
    *,
    precision: int | None = None,
    size: tuple[int, int] | None = None,
    marker: int | None = None,
) -> bytes:
    b = bytearray(data)
    i = _sof(data)
    if marker is not None:
        b[i + 1] = marker
    if precision is not None:
        b[i + 4] = precision
    if size is not None:
        w, h = size
        b[i + 5 : i + 9] = bytes([h >> 8, h & 255, w >> 8, w & 255])
    return bytes(b)


def corrupt_scan(data: bytes) -> bytes:
    """Plant a marker in the middle of the entropy-coded data."""
    sos = data.index(b"\xff\xda")
    mid = sos + (len(data) - sos) // 2
    return data[:mid] + b"\xff\xc1" + data[mid + 2 :]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    synthetic_rgb(8, 8).save(buf, "PNG")
    return buf.getvalue()


CASES = [
    ("empty", b"", EmptyInputError, Status.EMPTY),
    ("png", png_bytes(), NotJPEGError, Status.NOT_JPEG),
    ("text", b"hello, world", NotJPEGError, Status.NOT_JPEG),
    ("soi only", b"\xff\xd8", TruncatedError, Status.TRUNCATED),
    ("truncated header", GOOD[:120], TruncatedError, Status.TRUNCATED),
    ("truncated scan", GOOD[: len(GOOD) * 2 // 3], TruncatedError, Status.TRUNCATED),
    ("truncated progressive", PROG[: len(PROG) // 2], TruncatedError, Status.TRUNCATED),
    ("marker in scan", corrupt_scan(GOOD), CorruptDataError, Status.CORRUPT),
    ("12-bit", patched_sof(GOOD, precision=12), UnsupportedFormatError, Status.UNSUPPORTED),
    ("lossless", patched_sof(GOOD, marker=0xC3), UnsupportedFormatError, Status.UNSUPPORTED),
    ("zero width", patched_sof(GOOD, size=(0, 120)), UnsupportedFormatError, Status.UNSUPPORTED),
    ("bomb", patched_sof(GOOD, size=(60000, 60000)), DecompressionBombError, Status.TOO_LARGE),
]


@pytest.mark.parametrize("name, data, exc, status", CASES, ids=[c[0] for c in CASES])
def test_single_decode_raises_typed_error(name, data, exc, status, capfd):
    with pytest.raises(exc) as info:
        smolplug.decode_jpeg(data, SPEC)
    assert isinstance(info.value, DecodeError) and isinstance(info.value, SmolplugError)
    assert isinstance(info.value, ValueError)
    assert info.value.status == status
    assert str(info.value)  # a reason, not an empty message
    out, err = capfd.readouterr()
    assert out == "" and err == "", "libjpeg must never print"


def test_batch_reports_every_item_and_never_aborts(capfd):
    items = [GOOD] + [c[1] for c in CASES] + [PROG]
    batch = smolplug.decode_jpeg_batch(items, SPEC, threads=2, on_error="skip")
    assert len(batch) == len(items) == batch.data.shape[0]
    assert batch.status[0] == Status.OK and batch.status[-1] == Status.OK
    assert [Status(s) for s in batch.status[1:-1]] == [c[3] for c in CASES]
    assert batch.failed == list(range(1, len(items) - 1))
    assert all(batch.messages[i] for i in batch.failed)
    # good items are exactly what a single decode gives; failed slots hold the fill value
    assert np.array_equal(batch.data[0], smolplug.decode_jpeg(GOOD, SPEC))
    assert np.array_equal(batch.data[-1], smolplug.decode_jpeg(PROG, SPEC))
    for i in batch.failed:
        assert np.all(batch.data[i] == 0)
    assert capfd.readouterr() == ("", "")


def test_batch_raise_mode_names_the_item():
    with pytest.raises(TruncatedError, match=r"item 1: .*\(1 more item\(s\) failed\)") as info:
        smolplug.decode_jpeg_batch([GOOD, GOOD[:300], b""], SPEC)
    assert info.value.index == 1
    assert info.value.batch.status.tolist() == [Status.OK, Status.TRUNCATED, Status.EMPTY]


def test_non_strict_decodes_damaged_images_and_warns():
    damaged = GOOD[: len(GOOD) * 2 // 3]
    with pytest.warns(DecodeWarning, match="Premature end"):
        out = smolplug.decode_jpeg(damaged, SPEC, strict=False)
    assert out.shape == SPEC.frame_shape
    b = smolplug.decode_jpeg_batch([damaged, corrupt_scan(GOOD)], SPEC, strict=False)
    assert b.status.tolist() == [Status.WARNING, Status.WARNING]
    assert b.ok.all() and b.failed == []
    assert "Premature end" in b.messages[0] and "Corrupt JPEG data" in b.messages[1]
    assert [e[1] for e in b.errors()] == [Status.WARNING, Status.WARNING]


def test_early_stop_does_not_read_damage_below_the_roi():
    # baseline: rows below the region are never decoded, so a truncated tail is not an error
    img = synthetic_rgb(256, 256)
    data = encode(img, subsampling="4:2:0")
    top = FrameSpec(16, 64, roi=(0, 0, 256, 64))
    cut = data[: int(len(data) * 0.6)]
    assert np.array_equal(smolplug.decode_jpeg(cut, top), smolplug.decode_jpeg(data, top))
    b = smolplug.decode_jpeg_batch([data], top)
    assert b.rows_decoded[0] < 256


def test_max_pixels_is_configurable():
    big = encode(synthetic_rgb(300, 200))
    with pytest.raises(DecompressionBombError, match="max_pixels=50000"):
        smolplug.decode_jpeg(big, SPEC, max_pixels=50_000)
    smolplug.decode_jpeg(big, SPEC, max_pixels=60_000)
    smolplug.decode_jpeg(big, SPEC, max_pixels=None)
    with pytest.raises(SpecError):
        smolplug.decode_jpeg(big, SPEC, max_pixels=0)


def test_roi_outside_image():
    with pytest.raises(RegionOutOfBoundsError, match="not inside the 160x120 image"):
        smolplug.decode_jpeg(GOOD, FrameSpec(8, 8, roi=(100, 100, 100, 30)))
    b = smolplug.decode_jpeg_batch([GOOD], FrameSpec(8, 8, roi=(100, 100, 100, 30)), on_error="skip")
    assert b.status[0] == Status.ROI_OUT_OF_BOUNDS


def test_invalid_items_and_arguments():
    with pytest.raises(InvalidInputError):
        smolplug.decode_jpeg(12345, SPEC)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        smolplug.decode_jpeg("not bytes", SPEC)  # type: ignore[arg-type]
    b = smolplug.decode_jpeg_batch(
        [GOOD, None, 7, np.frombuffer(GOOD, np.uint8), bytearray(GOOD), memoryview(GOOD)],
        SPEC,
        on_error="skip",
    )
    assert b.status.tolist() == [0, Status.INVALID_INPUT, Status.INVALID_INPUT, 0, 0, 0]
    for bad in (dict(threads=0), dict(threads=1.5), dict(on_error="ignore")):
        with pytest.raises(SpecError):
            smolplug.decode_jpeg_batch([GOOD], SPEC, **bad)
    with pytest.raises(SpecError, match="sequence of images"):
        smolplug.decode_jpeg_batch(GOOD, SPEC)  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        smolplug.decode_jpeg(GOOD, "224x224")  # type: ignore[arg-type]


def test_ok_image_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        smolplug.decode_jpeg(GOOD, SPEC)


def test_probe():
    info = smolplug.probe_jpeg(GOOD)
    assert (info.width, info.height, info.orientation) == (160, 120, 1)
    with pytest.raises(NotJPEGError):
        smolplug.probe_jpeg(png_bytes())
    assert Image.open(io.BytesIO(GOOD)).size == (info.width, info.height)
