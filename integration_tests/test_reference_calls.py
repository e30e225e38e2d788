"""Reference-model calls as the engines make them: each fetches its frame at full resolution by
random access (plugin off: OpenCV seek + read; on: smolplug's sampled decoding) and runs or
charges the detector; partial labels and training spans for long videos; the long workload."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from integration_tests import longvideo
from integration_tests.engines import blazeit, noscope
from integration_tests.engines.common import ReferenceCalls, SeekFrames, UnfitVideoError
from integration_tests.engines.reference import Labels, label_rule, label_video
from integration_tests.workload import prepare_video
from smolplug.adapters import get
from smolplug.adapters._frames import full_frames
from smolplug.video import load_index
from tests.clips import make_clip


def _sequential(path, frames) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    want, out, i = set(frames), {}, 0
    while len(out) < len(want):
        ok, f = cap.read()
        assert ok
        if i in want:
            out[i] = f
        i += 1
    cap.release()
    return out


@pytest.mark.parametrize("hd", [False, True], ids=["vtest.avi", "1080p"])
def test_both_fetches_return_the_sequential_decodes_frames_pixel_for_pixel(source_video, hd):
    """OpenCV's seek and smolplug's sampled decoding both give frame i of a sequential decode,
    byte-identical, so the reference model answers the same in both modes."""
    video = prepare_video(source_video, hd=hd)
    frames = [7, 3, 250, 251, 600, 794]  # any order, across GOPs
    truth = _sequential(video, frames)
    got = full_frames(video, frames)
    cap = cv2.VideoCapture(str(video))
    seek = SeekFrames(cap, str(video), frames)
    for j, f in enumerate(frames):
        assert np.array_equal(got.data[j], truth[f]), f
        assert np.array_equal(seek[j], truth[f]), f
    cap.release()
    assert got.frames_decoded < 795  # the sampled decode stops after the last frame it needs


@pytest.mark.parametrize("plugin", [False, True], ids=["off", "on"])
def test_run_mode_detects_on_the_fetched_frames_and_agrees_with_the_labels(video, labels, plugin):
    if plugin:
        get("noscope_ref").enable()
    eng = noscope.NoScope(noscope.NoScopeQuery(str(video)), labels, reference="run", reference_batch=3)
    frames = [12, 300, 301, 598, 790]
    said = eng.oracle(frames)
    eng.close_reference()
    truth = labels.in_region(eng.query.region)
    assert said == {f: bool(truth[f]) for f in frames}
    st = eng.ref_stats
    assert st.calls == eng.oracle_calls == 5 and st.checked == st.agreed == 5
    assert st.fetch > 0 and st.detector > 0


def test_charge_mode_fetches_and_charges_the_detector(video, labels):
    eng = blazeit.BlazeIt(str(video), labels, reference="charge", reference_seconds=0.5)
    got = list(eng.oracle([4, 9]))
    assert got == [(4, int(labels.counts()[4])), (9, int(labels.counts()[9]))]
    assert eng.ref_stats.detector == pytest.approx(1.0) and eng.ref_stats.fetch > 0
    assert eng.ref_stats.fetched == 2


class _Recorder(ReferenceCalls):
    """The engines' reference-call helper with a fetch that records what it was asked."""

    def __init__(self, n: int, batch: int):
        self.video = "unused.mp4"
        self.labels = Labels([np.zeros((i % 3, 5), np.float32) for i in range(n)])
        self._ref_init("charge", batch, 0.01)
        self.batches: list[list[int]] = []

    def load_reference(self, indices):
        self.batches.append(list(indices))
        return [np.zeros((2, 2, 3), np.uint8)] * len(indices)


def test_calls_prefetch_in_batches_in_the_engines_order_and_honour_skip():
    r = _Recorder(100, batch=4)
    blocked = {5, 6}
    seen = []
    for f, boxes in r.reference_calls([9, 5, 1, 6, 3, 2, 8, 7, 0], skip=lambda f: f in blocked):
        seen.append(f)
        assert len(boxes) == f % 3
        if f == 1:
            blocked.add(2)  # decided after a call: the prefetched frame is not called
    assert r.batches == [[9, 1, 3, 2], [8, 7, 0]]
    assert seen == [9, 1, 3, 8, 7, 0]
    assert r.ref_stats.calls == 6 and r.ref_stats.fetched == 7


def test_stopping_early_fetches_no_further_batch():
    r = _Recorder(100, batch=4)
    for n, _ in enumerate(r.reference_calls(range(50)), 1):
        if n == 5:
            break
    assert r.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_seek_frames_reads_lazily(video):
    cap = cv2.VideoCapture(str(video))
    frames = SeekFrames(cap, str(video), [3, 10_000])
    assert frames[0].shape == (576, 768, 3)
    with pytest.raises(OSError, match="frame 10000"):
        frames[1]
    cap.release()


# -- partial labels and training spans (the long workload) ---------------------------------------
def test_label_rule_keeps_the_span_and_every_nth_frame():
    keep = label_rule(100, 10, 30)
    assert np.flatnonzero(keep).tolist() == list(range(10)) + [30, 60, 90]
    assert label_rule(5, None, None).all()


def test_partial_labels_are_computed_cached_and_reloaded(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n=40, w=160, h=96)
    seen = []
    lab = label_video(
        clip, cache_dir=tmp_path, workers=1, span=5, every=10, progress=lambda d, n: seen.append((d, n))
    )
    assert seen and seen[-1] == (8, 8)  # frames 0-4, 10, 20, 30
    assert lab.labelled.tolist() == label_rule(40, 5, 10).tolist()
    assert (lab.counts() >= 0).tolist() == lab.labelled.tolist()
    again = label_video(clip, cache_dir=tmp_path, span=5, every=10)
    assert again.labelled.tolist() == lab.labelled.tolist()
    assert all(
        (a is None and b is None) or np.array_equal(a, b) for a, b in zip(lab.boxes, again.boxes, strict=True)
    )


def test_engines_train_inside_the_span_and_need_it_labelled(video, labels):
    boxes = list(labels.boxes)
    span = 300
    partial = Labels([b if i < span or i % 30 == 0 else None for i, b in enumerate(boxes)])
    eng = blazeit.BlazeIt(str(video), partial, train_span=span)
    asked = []
    original = eng.load

    def load(indices, size=blazeit.SIZE):
        asked.append(np.asarray(indices))
        return original(indices, size)

    eng.load = load
    eng.train()
    assert all(a.max() < span for a in asked)
    assert eng.heldout_frames.max() < span and len(eng.proxy.heldout) == len(eng.heldout_frames)
    with pytest.raises(UnfitVideoError, match="first 400 frames"):
        noscope.NoScope(noscope.NoScopeQuery(str(video), train_span=400), partial)
    with pytest.raises(ValueError, match="no cached label"):
        list(blazeit.BlazeIt(str(video), partial, train_span=span, reference="labels").oracle([301]))


# -- the long workload ----------------------------------------------------------------------------
def test_long_video_passes_cover_the_length_inside_the_frame():
    plan = longvideo.passes(36_000, 795, 768, 576)
    assert sum(p["frames"] for p in plan) == 36_000
    assert len({(round(p["start"][0], 3), p["reverse"]) for p in plan}) == len(plan)
    for p in plan:
        w, h = p["size"]
        assert w / h == pytest.approx(16 / 9) and w <= 768 and h <= 576
        for x, y in (p["start"], p["end"]):
            assert 0 <= x <= 768 - w + 1e-9 and 0 <= y <= 576 - h + 1e-9
        dist = np.hypot(p["end"][0] - p["start"][0], p["end"][1] - p["start"][1])
        assert dist <= 0.3 * p["frames"] + 1e-9


def test_long_video_is_a_camera_like_1080p_stream(source_video, tmp_path):
    out = longvideo.long_video(source_video, tmp_path, seconds=3)
    ix = load_index(out)
    assert (ix.width, ix.height, ix.codec, ix.n_frames) == (1920, 1080, "h264", 30)
    assert ix.keyframes.tolist() == [0, 20]
    assert ix.has_b_frames
    frames = _sequential(out, range(30))
    assert all(not np.array_equal(frames[i], frames[i + 1]) for i in range(29))
    assert longvideo.long_video(source_video, tmp_path, seconds=3) == out  # cached
