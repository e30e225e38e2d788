"""The decord and supervision adapters against the real packages: the same frames, the same
properties, with the adapter off and on; sources they do not take stay with the host."""

from __future__ import annotations

import numpy as np
import pytest

from smolplug.adapters import get

pytest.importorskip("av", reason="PyAV not installed")


@pytest.fixture
def adapter():
    used = []

    def enable(name):
        a = get(name).enable()
        used.append(a)
        return a

    yield enable
    for a in used:
        a.disable()


def test_decord_adapter_swaps_the_reader_and_restores_it(corpus, adapter):
    decord = pytest.importorskip("decord")
    original = decord.VideoReader
    path = str(corpus["h264-bframes.mp4"])
    off = decord.VideoReader(path).get_batch(list(range(0, 48, 7))).asnumpy()
    adapter("decord")
    assert decord.VideoReader is not original
    vr = decord.VideoReader(path)
    assert type(vr).__module__.startswith("smolplug")
    on = vr.get_batch(list(range(0, 48, 7))).asnumpy()
    assert np.abs(off.astype(int) - on).max() <= 2
    assert vr.frames_decoded < 48
    get("decord").disable()
    assert decord.VideoReader is original


def test_decord_adapter_leaves_what_it_does_not_take(tmp_path, corpus, adapter):
    decord = pytest.importorskip("decord")
    original = decord.VideoReader
    adapter("decord")
    with open(corpus["h264-bframes.mp4"], "rb") as f:  # a file object: decord's own reader
        assert isinstance(decord.VideoReader(f), original)
    bad = tmp_path / "frames.bin"
    bad.write_bytes(b"x" * 100)
    with pytest.raises(Exception):  # noqa: B017 - decord's own error, whatever it is
        decord.VideoReader(str(bad))


@pytest.mark.parametrize("stride", [1, 5, 30])
def test_supervision_frames_are_unchanged(corpus, adapter, stride):
    sv = pytest.importorskip("supervision")
    path = str(corpus["h264-bpyramid.mp4"])
    off = list(sv.get_video_frames_generator(path, stride=stride))
    info_off = sv.VideoInfo.from_video_path(path)
    adapter("supervision")
    on = list(sv.get_video_frames_generator(path, stride=stride))
    assert sv.VideoInfo.from_video_path(path) == info_off
    assert len(on) == len(off) == len(range(0, 48, stride))
    assert all(np.array_equal(a, b) for a, b in zip(off, on, strict=True))
    get("supervision").disable()
    ranged_off = list(sv.get_video_frames_generator(path, stride=stride, start=7, end=40))
    adapter("supervision")
    ranged_on = list(sv.get_video_frames_generator(path, stride=stride, start=7, end=40))
    assert all(np.array_equal(a, b) for a, b in zip(ranged_off, ranged_on, strict=True))


def test_supervision_capture_is_lazy_and_falls_back(corpus, adapter, tmp_path):
    sv = pytest.importorskip("supervision")
    from supervision import _cv2

    original = _cv2.VideoCapture
    adapter("supervision")
    cap = _cv2.VideoCapture(str(corpus["h264-bframes.mp4"]))
    assert type(cap).__module__ == "smolplug.compat.capture"
    for _ in range(47):
        cap.grab()
    assert cap.frames_decoded == 0
    missing = _cv2.VideoCapture(str(tmp_path / "none.mp4"))  # not ours to open: the host's
    assert isinstance(missing, original) and not missing.isOpened()
    get("supervision").disable()
    assert _cv2.VideoCapture is original
    assert sv is not None
