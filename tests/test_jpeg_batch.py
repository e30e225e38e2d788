"""Batch decoding: one native call, identical to one-by-one, safe from many Python threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import smolplug
from smolplug import FrameSpec, SpecError

from .conftest import encode, synthetic_rgb

IMAGES = [
    encode(synthetic_rgb(w, h, seed=i), progressive=i % 2 == 1, subsampling=["4:2:0", "4:4:4"][i % 2])
    for i, (w, h) in enumerate([(320, 240), (97, 211), (640, 360), (50, 50), (257, 129), (400, 400)] * 3)
]
SPECS = [
    FrameSpec.imagenet(),
    FrameSpec(64, 96, layout="NHWC", dtype="uint8"),
    FrameSpec(48, 48, resize="letterbox", colorspace="GRAY", dtype="float16"),
]


@pytest.mark.parametrize("spec", SPECS, ids=["imagenet", "nhwc-u8", "letterbox-gray-f16"])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_batch_equals_one_by_one(spec, threads):
    batch = smolplug.decode_jpeg_batch(IMAGES, spec, threads=threads)
    assert batch.data.shape == spec.batch_shape(len(IMAGES))
    for i, data in enumerate(IMAGES):
        assert np.array_equal(batch.data[i], smolplug.decode_jpeg(data, spec)), i


def test_decodes_into_caller_buffer_without_copy():
    spec = SPECS[0]
    out = spec.allocate(len(IMAGES))
    b = smolplug.decode_jpeg_batch(IMAGES, spec, out=out)
    assert b.data is out
    frame = np.empty(spec.frame_shape, np.float32)
    assert smolplug.decode_jpeg(IMAGES[0], spec, out=frame) is frame
    assert np.array_equal(frame, out[0])


def test_out_is_validated():
    spec = SPECS[0]
    with pytest.raises(SpecError, match="shape"):
        smolplug.decode_jpeg_batch(IMAGES, spec, out=spec.allocate(len(IMAGES) - 1))
    with pytest.raises(SpecError, match="shape"):
        smolplug.decode_jpeg_batch(IMAGES[:2], spec, out=np.empty((2, 3, 224, 224), np.float16))
    with pytest.raises(SpecError, match="contiguous"):
        smolplug.decode_jpeg_batch(
            IMAGES[:2], spec, out=np.empty((2, 224, 224, 3), np.float32).transpose(0, 3, 1, 2)
        )
    ro = spec.allocate(2)
    ro.flags.writeable = False
    with pytest.raises(SpecError, match="writable"):
        smolplug.decode_jpeg_batch(IMAGES[:2], spec, out=ro)
    with pytest.raises(SpecError):
        smolplug.decode_jpeg_batch(IMAGES[:2], spec, out=[[0]])  # type: ignore[arg-type]


def test_empty_batch():
    b = smolplug.decode_jpeg_batch([], SPECS[0])
    assert b.data.shape == (0, 3, 224, 224) and len(b) == 0 and b.failed == []


def test_concurrent_python_threads():
    """Several Python threads share the native pools and per-thread decoders (the GIL is released)."""
    expected = {id(s): smolplug.decode_jpeg_batch(IMAGES, s, threads=1).data for s in SPECS}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for r in range(6):
                spec = SPECS[(k + r) % len(SPECS)]
                if (k + r) % 2:
                    got = smolplug.decode_jpeg_batch(IMAGES, spec, threads=1 + (k % 3)).data
                else:
                    got = np.stack([smolplug.decode_jpeg(d, spec) for d in IMAGES])
                assert np.array_equal(got, expected[id(spec)])
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threads_default_from_env(monkeypatch):
    from smolplug.jpeg import default_threads

    monkeypatch.setenv("SMOLPLUG_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("SMOLPLUG_THREADS", "zero")
    with pytest.raises(SpecError):
        default_threads()
    monkeypatch.delenv("SMOLPLUG_THREADS")
    assert default_threads() >= 1


def test_fork_child_gets_fresh_pools():
    import multiprocessing as mp

    smolplug.decode_jpeg_batch(IMAGES[:4], SPECS[0], threads=2)  # pool started in the parent
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        shape = pool.apply(_decode_in_child)
    assert shape == (4, 3, 224, 224)


def _decode_in_child():
    return smolplug.decode_jpeg_batch(IMAGES[:4], SPECS[0], threads=2).data.shape
