"""Bounded memory on hostile input: a multi-scan JPEG too small to hold the image it claims is
refused before libjpeg allocates its coefficient buffers, libjpeg's working memory has a per-decode
budget (``max_memory``, status TOO_LARGE), and the fallback reports the same."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug import DecompressionBombError, FrameRequest, FrameSpec, SpecError, Status
from smolplug.jpeg import DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS
from smolplug.jpeg import _pillow as fallback

from .conftest import FIXTURES, encode, synthetic_rgb

pytest.importorskip("smolplug._binding", reason="native extension not built")

SPEC = FrameSpec(32, 32)
HOSTILE_SIDE = 13000  # 169 M pixels: under DEFAULT_MAX_PIXELS


def hostile_progressive(size: int = 519) -> bytes:
    """A progressive header claiming 13000x13000 followed by a few hundred bytes of scan data
    (libjpeg would buffer 13000^2 x 1.5 x 2 bytes = 0.5 GB of coefficients for it)."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    data = bytearray(encode(Image.fromarray(noise), progressive=True, quality=90))
    sof = data.index(b"\xff\xc2")
    data[sof + 5 : sof + 9] = HOSTILE_SIDE.to_bytes(2, "big") * 2
    assert data.index(b"\xff\xda") < size
    return bytes(data[:size])


HOSTILE = hostile_progressive()
PROGRESSIVE = encode(synthetic_rgb(640, 480), progressive=True)  # 4:2:0: 1.5 x 640 x 480 x 2 B = 0.9 MB
BASELINE = encode(synthetic_rgb(640, 480))


def test_hostile_file_is_refused_before_allocating():
    assert HOSTILE_SIDE**2 < DEFAULT_MAX_PIXELS and len(HOSTILE) == 519
    with pytest.raises(DecompressionBombError, match=r"1 bit/block.*the file has 519"):
        smolplug.decode_jpeg(HOSTILE, SPEC, strict=False)
    b = smolplug.decode_jpeg_batch([HOSTILE, BASELINE], SPEC, on_error="skip", strict=False)
    assert b.status.tolist() == [Status.TOO_LARGE, Status.OK]
    assert "decompression-bomb guard" in b.messages[0]


# Peak RSS of the decoding process itself: VmHWM belongs to the memory map exec() created.
# (getrusage's ru_maxrss would not do: Linux carries the pre-exec high-water mark over, and
# subprocess forks or vforks from this process, so it would report the test runner's RSS.)
PEAK_RSS = textwrap.dedent("""
    import sys, smolplug
    data = open(sys.argv[1], "rb").read()
    n = int(sys.argv[2])
    spec = smolplug.FrameSpec(32, 32)
    if n == 1:
        try:
            smolplug.decode_jpeg(data, spec, strict=False)
        except smolplug.DecodeError as exc:
            print(int(exc.status))
        else:
            print(0)
    else:
        b = smolplug.decode_jpeg_batch([data] * n, spec, threads=n, on_error="skip", strict=False)
        print(max(b.status))
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()
    print(int(status[0]) // 1024 if status[1] == "kB" else -1)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("n", [1, 8], ids=["single", "batch-of-8"])
def test_hostile_file_peak_memory_stays_small(tmp_path, n):
    """Measured in a fresh process: before the bound, 514 MB (single) and 3.9 GB (batch of 8)."""
    path = tmp_path / "hostile.jpg"
    path.write_bytes(HOSTILE)
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path), str(n)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    status, peak_mb = map(int, proc.stdout.split())
    assert status == Status.TOO_LARGE
    assert 0 < peak_mb < 100, f"peak RSS {peak_mb} MB"


@pytest.mark.parametrize(
    "data",
    [
        # the most compressible progressive files there are: flat colour, ~1 bit per DC block
        encode(Image.new("RGB", (2000, 1500), (90, 120, 200)), progressive=True),
        encode(Image.new("L", (1999, 1501), 77), progressive=True),
        encode(Image.new("RGB", (1024, 8), (1, 2, 3)), progressive=True, subsampling="4:4:4"),
        (FIXTURES / "restart_progressive.jpg").read_bytes(),
        PROGRESSIVE,
    ],
    ids=["flat-rgb", "flat-gray-odd", "flat-444-strip", "restart-progressive", "photo-like"],
)
def test_legitimate_progressive_files_pass_the_bound(data):
    smolplug.decode_jpeg(data, SPEC)


def test_truncation_inside_the_scans_is_still_a_warning_or_truncated():
    """The bound refuses only files that cannot hold the DC scans; a cut-off download keeps its
    status (WARNING with strict=False, TRUNCATED with strict=True)."""
    cut = PROGRESSIVE[: len(PROGRESSIVE) * 2 // 3]
    b = smolplug.decode_jpeg_batch([cut], SPEC, on_error="skip", strict=False)
    assert b.status.tolist() == [Status.WARNING]
    b = smolplug.decode_jpeg_batch([cut], SPEC, on_error="skip", strict=True)
    assert b.status.tolist() == [Status.TRUNCATED]


def test_memory_budget_refuses_what_it_cannot_hold():
    need = 3 * 80 * 60 * 128 // 2  # 4:2:0 coefficient buffers of 640x480 (blocks x 128 bytes)
    with pytest.raises(DecompressionBombError, match=rf"needs {need} bytes.*max_memory=100000"):
        smolplug.decode_jpeg(PROGRESSIVE, SPEC, max_memory=100_000)
    b = smolplug.decode_jpeg_batch(
        [PROGRESSIVE, BASELINE], SPEC, threads=2, on_error="skip", max_memory=100_000
    )
    # single-scan files decode row by row: the budget never binds them
    assert b.status.tolist() == [Status.TOO_LARGE, Status.OK]
    smolplug.decode_jpeg(PROGRESSIVE, SPEC, max_memory=4 * need)
    smolplug.decode_jpeg(PROGRESSIVE, SPEC, max_memory=None)


def test_default_budget_holds_the_largest_image_max_pixels_admits():
    # four full-resolution components (CMYK), 8 bytes of coefficients per pixel
    assert 8 * DEFAULT_MAX_PIXELS < DEFAULT_MAX_MEMORY < 1.2 * 8 * DEFAULT_MAX_PIXELS


def test_reader_passes_the_budget(tmp_path):
    (tmp_path / "0.jpg").write_bytes(PROGRESSIVE)
    (tmp_path / "1.jpg").write_bytes(BASELINE)
    req = FrameRequest(SPEC, batch_size=2, on_error="skip", max_memory=100_000)
    with smolplug.open_frames(tmp_path, req) as reader:
        (batch,) = list(reader)
    assert batch.status.tolist() == [Status.TOO_LARGE, Status.OK]
    assert "max_memory=100000" in batch.messages[0]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1G", True])
def test_bad_budget_is_a_spec_error(bad):
    with pytest.raises(SpecError, match="max_memory"):
        smolplug.decode_jpeg(BASELINE, SPEC, max_memory=bad)


@pytest.mark.parametrize(
    ("data", "max_memory"),
    [(HOSTILE, DEFAULT_MAX_MEMORY), (PROGRESSIVE, 100_000), (PROGRESSIVE, None), (BASELINE, 1)],
    ids=["hostile", "over-budget", "no-budget", "single-scan"],
)
def test_fallback_gives_the_same_statuses(data, max_memory):
    native = smolplug.decode_jpeg_batch([data], SPEC, on_error="skip", strict=False, max_memory=max_memory)
    out = SPEC.allocate(1)[0]
    res = fallback.decode_into(data, SPEC, out, strict=False, max_pixels=None, max_memory=max_memory)
    assert res["status"] == native.status[0]
    assert res["message"] == native.messages[0]


def test_fallback_layout_matches_the_native_arithmetic():
    """The fallback's header arithmetic (coefficient bytes, 1 bit per block) agrees with libjpeg's
    on every sampling layout, including non-multiple-of-MCU sizes."""
    for subsampling in ("4:4:4", "4:2:2", "4:2:0"):
        img = synthetic_rgb(123, 77)
        coef, min_bytes = fallback.multi_scan_needs(encode(img, progressive=True, subsampling=subsampling))
        luma = 16 * 10  # ceil(123/8) x ceil(77/8)
        chroma = {"4:4:4": luma, "4:2:2": 8 * 10, "4:2:0": 8 * 5}[subsampling]
        assert min_bytes == -(-(luma + 2 * chroma) // 8)
        assert coef >= (luma + 2 * chroma) * 128
    assert fallback.multi_scan_needs(encode(synthetic_rgb(123, 77))) is None  # single scan
    gray = Image.new("L", (20, 20))
    assert fallback.multi_scan_needs(encode(gray, progressive=True)) == (3 * 3 * 128, 2)
    with io.BytesIO() as buf:
        buf.write(b"\xff\xd8\xff\xc2\x00\x05")  # cut inside the SOF
        assert fallback.multi_scan_needs(buf.getvalue()) is None
