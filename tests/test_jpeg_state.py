"""Every decode behaves as a fresh decoder would: no Huffman or quantisation table of one image leaks
into the next, whatever the order, in single decodes, batches at any thread count and the folder
reader. The reference is a decode in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import smolplug
from smolplug import FrameRequest, FrameSpec, Status
from smolplug.jpeg import _pillow as fallback

from .conftest import encode, synthetic_rgb

pytest.importorskip("smolplug._binding", reason="native extension not built")

SPEC = FrameSpec(24, 32, dtype="uint8")
DHT, DQT = 0xC4, 0xDB


def without_segments(data: bytes, marker: int) -> bytes:
    """``data`` with every ``marker`` segment before the first scan removed."""
    out, i = bytearray(data[:2]), 2
    while data[i + 1] != 0xDA:
        end = i + 2 + (data[i + 2] << 8 | data[i + 3])
        if data[i + 1] != marker:
            out += data[i:end]
        i = end
    return bytes(out + data[i:])


# Optimised Huffman tables (and a bigger image, so batches order it first: see _batch_items)
OPTIMISED = encode(synthetic_rgb(192, 160, seed=1), optimize=True, quality=75)
STANDARD = encode(synthetic_rgb(64, 48, seed=2))  # libjpeg's default: the standard (Annex K) tables
VARIANTS = {
    "mjpeg-no-dht": without_segments(STANDARD, DHT),  # decodes with the standard tables
    "no-dqt": without_segments(STANDARD, DQT),  # CORRUPT: no quantisation table
    "progressive-no-dht": without_segments(encode(synthetic_rgb(64, 48, seed=3), progressive=True), DHT),
}
ALL = {"optimised": OPTIMISED, **VARIANTS}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict[str, tuple[int, str, bytes]]:
    """name -> (status, message, frame bytes), each image decoded in its own new process."""
    d = tmp_path_factory.mktemp("fresh")
    code = textwrap.dedent("""
        import sys, smolplug
        data = open(sys.argv[1], "rb").read()
        spec = smolplug.FrameSpec(24, 32, dtype="uint8")
        b = smolplug.decode_jpeg_batch([data], spec, threads=1, on_error="skip")
        sys.stdout.write(f"{b.status[0]}\\n{b.messages[0]}\\n")
        open(sys.argv[2], "wb").write(b.data[0].tobytes())
    """)
    out = {}
    for name, data in ALL.items():
        src, dst = d / f"{name}.jpg", d / f"{name}.raw"
        src.write_bytes(data)
        cmd = [sys.executable, "-c", code, str(src), str(dst)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        status, message = proc.stdout.split("\n")[:2]
        out[name] = (int(status), message, dst.read_bytes())
    return out


def test_variants_are_what_they_claim(fresh):
    assert fresh["optimised"][0] == Status.OK
    assert fresh["mjpeg-no-dht"][0] == Status.OK  # standard tables, as libjpeg-turbo does for MJPEG
    assert fresh["no-dqt"][0] == Status.CORRUPT and "Quantization table" in fresh["no-dqt"][1]
    # libjpeg-turbo supplies standard tables to sequential decoding only
    status, message, _ = fresh["progressive-no-dht"]
    assert status == Status.CORRUPT and "Huffman table" in message


def _single(data: bytes) -> tuple[int, str, bytes]:
    frame = SPEC.allocate(1)[0]
    try:
        smolplug.decode_jpeg(data, SPEC, out=frame)
    except smolplug.DecodeError as exc:
        return int(exc.status), str(exc), frame.tobytes()
    return int(Status.OK), "", frame.tobytes()


@pytest.mark.parametrize("first_is_optimised", [True, False], ids=["optimised-first", "variant-first"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_single_decodes_match_a_fresh_process(fresh, variant, first_is_optimised):
    order = ["optimised", variant] if first_is_optimised else [variant, "optimised"]
    for name in order:  # on this thread's one decoder, back to back
        assert _single(ALL[name]) == fresh[name], name


def _batch_items(variant: str) -> list[str]:
    # Both orders on every thread: with threads > 1 the pool starts with the largest items
    # (OPTIMISED), so each worker decodes OPTIMISED then the variant; in file order (1 thread) the
    # pairs alternate.
    return ["optimised", variant] * 6


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_batches_match_a_fresh_process(fresh, variant, threads):
    names = _batch_items(variant)
    for strict in (True, False):
        b = smolplug.decode_jpeg_batch(
            [ALL[n] for n in names], SPEC, threads=threads, on_error="skip", strict=strict
        )
        for i, name in enumerate(names):
            assert (int(b.status[i]), b.messages[i], b.data[i].tobytes()) == fresh[name], (name, i, strict)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_folder_reader_matches_a_fresh_process(fresh, variant, tmp_path: Path):
    names = _batch_items(variant)
    for i, name in enumerate(names):
        (tmp_path / f"{i}.jpg").write_bytes(ALL[name])
    req = FrameRequest(SPEC, batch_size=4, on_error="skip", threads=2)
    with smolplug.open_frames(tmp_path, req) as reader:
        for batch in reader:
            for j, idx in enumerate(batch.indices):
                name = names[int(idx)]
                got = (int(batch.status[j]), batch.messages[j], batch.data[j].tobytes())
                assert got == fresh[name], (name, int(idx))


@pytest.mark.parametrize("name", sorted(ALL))
def test_fallback_gives_the_same_statuses(fresh, name):
    out = SPEC.allocate(1)[0]
    res = fallback.decode_into(ALL[name], SPEC, out, strict=True, max_pixels=None)
    assert res["status"] == fresh[name][0], res["message"]
