"""Two-model pipelines: every frame once, in order, each box's output joined to its frame; the
broker batches across frames; errors, missing frames, early exits and a fast source behave."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from smolplug import FrameSpec, Status
from smolplug.errors import SpecError
from smolplug.twostage import CropPreprocessor, TwoStagePipeline

from .conftest import DATA

SPEC = FrameSpec(16, 12, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), value_scale=1.0)


def image(i: int, h: int = 60, w: int = 80) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (h, w, 3), np.uint8)


def boxes_of(img: np.ndarray) -> np.ndarray:
    """A deterministic detector: 0-4 boxes placed from the image's content, some past its edges."""
    n = int(img[0, 0, 0]) % 5
    out = []
    for k in range(n):
        v = img[k + 1, k + 1].astype(float)
        out.append([v[0] % 70 - 5, v[1] % 50 - 5, 6 + v[2] % 30, 6 + (v[0] + v[1]) % 30, k / 10])
    return np.asarray(out, np.float32).reshape(-1, 5)


def classify(batch: np.ndarray) -> np.ndarray:
    """Per crop: its channel means (a 'model' whose output identifies the crop)."""
    return batch.reshape(len(batch), 3, -1).mean(axis=2)


def expected(i: int) -> tuple[np.ndarray, np.ndarray]:
    img = image(i)
    crops = CropPreprocessor(SPEC, "BGR")
    b = boxes_of(img)
    clipped, keep = crops.clip(b[:, :4], img.shape[1], img.shape[0])
    return clipped[keep], classify(crops(img, clipped[keep])) if keep.any() else np.zeros((0, 3))


def frames(n: int, missing=()):
    for i in range(n):
        if i in missing:
            yield i, Status.MISSING, "the decoder did not produce this frame", None
        else:
            yield i, Status.OK, "", image(i)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("max_batch", [1, 4, 32])
def test_every_frame_once_in_order_with_its_boxes_outputs(workers, max_batch):
    def slow_detector(img):  # uneven detector times: workers finish out of order
        time.sleep(0.002 * (int(img[0, 1, 0]) % 3))
        return boxes_of(img)

    pipe = TwoStagePipeline(
        frames(40, missing={7, 8}),
        slow_detector,
        classify,
        SPEC,
        max_batch=max_batch,
        max_wait_ms=5,
        detector_workers=workers,
    )
    out = pipe.run()
    assert [o.index for o in out] == list(range(40))
    for o in out:
        if o.index in (7, 8):
            assert o.status == Status.MISSING and "decoder" in o.message
            assert len(o.boxes) == 0 and o.outputs is None
            continue
        assert o.status == Status.OK
        boxes, outputs = expected(o.index)
        np.testing.assert_allclose(o.boxes[o.classified, :4], boxes, rtol=0, atol=1e-4)
        if len(boxes):
            np.testing.assert_allclose(o.outputs, outputs, rtol=1e-6)
        else:
            assert o.outputs is None
    s = pipe.stats
    assert s.frames == 40 and s.crops == sum(int(o.classified.sum()) for o in out)
    assert max(s.batch_sizes) <= max_batch
    if max_batch == 32:  # crops of several frames share batches
        assert max(s.batch_sizes) > 4
    assert len(s.latencies) == 40


def test_crops_match_pillow_within_a_level():
    from PIL import Image

    img = image(3, 120, 160)
    spec = FrameSpec(32, 24, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), value_scale=1.0)
    boxes = np.array([[0, 0, 160, 120], [10.5, 20.25, 40.5, 60.0], [100, 50, 60, 70]])
    got = CropPreprocessor(spec, "BGR")(img, boxes)
    for k, (x, y, w, h) in enumerate(boxes):
        pil = Image.fromarray(img[..., ::-1].copy())
        ref = pil.resize((24, 32), Image.BILINEAR, box=(x, y, x + w, y + h))
        diff = np.abs(got[k].transpose(1, 2, 0) - np.asarray(ref, np.float32))
        assert diff.max() <= 1.0 + 1e-3, (k, diff.max())
    with pytest.raises(SpecError, match="inside"):
        CropPreprocessor(spec, "BGR")(img, np.array([[150, 0, 20, 10]]))
    with pytest.raises(SpecError, match="roi"):
        CropPreprocessor(spec.replace(roi=(0, 0, 5, 5)))


def test_a_failing_stage_is_raised_and_every_thread_stops():
    before = threading.active_count()

    def bad_detector(img):
        if int(img[0, 0, 1]) % 4 == 0:
            raise RuntimeError("detector failed")
        return boxes_of(img)

    with pytest.raises(RuntimeError, match="detector failed"):
        TwoStagePipeline(frames(200), bad_detector, classify, SPEC, detector_workers=2).run()
    with pytest.raises(SpecError, match="rows"):
        TwoStagePipeline(frames(50), boxes_of, lambda b: np.zeros((1, 3)), SPEC, max_batch=8).run()
    time.sleep(0.2)
    assert threading.active_count() == before


def test_leaving_early_stops_the_threads():
    before = threading.active_count()
    pipe = TwoStagePipeline(frames(10_000), boxes_of, classify, SPEC, detector_workers=2)
    for k, _ in enumerate(pipe):
        if k == 5:
            break
    time.sleep(0.2)
    assert threading.active_count() == before


def test_a_fast_source_is_held_back():
    """A source far faster than the second model: frames read never run more than
    max_frames_in_flight ahead of the frames given out."""
    pulled = [0]

    def endless():
        i = 0
        while True:
            pulled[0] += 1
            yield i, Status.OK, "", image(i % 50)
            i += 1

    def slow_classify(batch):
        time.sleep(0.01)
        return classify(batch)

    pipe = TwoStagePipeline(
        endless(), boxes_of, slow_classify, SPEC, max_frames_in_flight=6, monitor_interval=0.01
    )
    for given, _ in enumerate(pipe, start=1):
        assert pulled[0] <= given + 6
        if given == 60:
            break
    assert pipe.stats.samples and max(s["in_flight"] for s in pipe.stats.samples) <= 6


def test_hog_pipeline_on_a_video_gives_the_naive_loops_boxes():
    cv2 = pytest.importorskip("cv2")
    from smolplug.request.selection import FrameSelection
    from smolplug.twostage import HOGPeopleDetector

    video = DATA / "video" / "vtest.avi"
    if not video.exists():
        pytest.skip(f"{video} not found")
    det = HOGPeopleDetector()
    sel = FrameSelection.indices([0, 1, 2, 50, 51])
    with TwoStagePipeline.open(video, det, classify, SPEC, frames=sel) as pipe:
        out = pipe.run()
    cap = cv2.VideoCapture(str(video))
    frames_cv = []
    for _ in range(52):
        ok, f = cap.read()
        assert ok
        frames_cv.append(f)
    assert [o.index for o in out] == [0, 1, 2, 50, 51]
    for o in out:
        ref = det(frames_cv[o.index])
        assert np.array_equal(o.boxes[:, 4], ref[:, 4])
        assert o.classified.all()
        np.testing.assert_array_equal(o.boxes[:, :4], CropPreprocessor(SPEC).clip(ref[:, :4], 768, 576)[0])
    assert sum(len(o.boxes) for o in out) > 0


def test_pace_releases_frames_no_faster_than_asked():
    pipe = TwoStagePipeline(frames(10), boxes_of, classify, SPEC, pace_fps=100)
    t = time.perf_counter()
    assert [o.index for o in pipe] == list(range(10))
    assert time.perf_counter() - t >= 0.09
