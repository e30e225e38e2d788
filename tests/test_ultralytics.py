"""The Ultralytics adapter against the real package (``pip install -e .[ultralytics]``, run by
``scripts/test`` in its own environment ``.venv-hosts``: Ultralytics needs torchvision, whose PyPI
builds match PyPI's CUDA torch, not the CPU torch of the main environment). Skipped where
Ultralytics is not installed.

Same frames from ``LoadImagesAndVideos`` with the adapter off and on, and the same predictions of
a YOLOv8n built from Ultralytics' packaged ``yolov8n.yaml`` (no weights can be downloaded here:
the model is untrained, seeded, and run at a near-zero confidence threshold so that every frame
has hundreds of boxes to compare)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV not installed")
ultralytics = pytest.importorskip("ultralytics", reason="Ultralytics not installed (extra: ultralytics)")

from smolplug.adapters import get  # noqa: E402


@pytest.fixture
def adapter():
    a = get("ultralytics")
    yield a
    a.disable()


def loader_frames(path, stride: int) -> list[np.ndarray]:
    from ultralytics.data import loaders

    out = []
    for _paths, images, _info in loaders.LoadImagesAndVideos(str(path), batch=4, vid_stride=stride):
        out.extend(images)
    return out


@pytest.mark.parametrize("stride", [1, 3, 12, 30])
@pytest.mark.parametrize("clip", ["h264-bpyramid.mp4", "hevc.mp4", "mpeg4-packed.avi", "h264-rot90.mp4"])
def test_loader_frames_are_unchanged(corpus, adapter, clip, stride):
    path = corpus[clip]
    off = loader_frames(path, stride)
    adapter.enable()
    on = loader_frames(path, stride)
    assert len(on) == len(off) > 0
    assert all(np.array_equal(a, b) for a, b in zip(off, on, strict=True))


def test_loader_decodes_only_what_it_keeps(corpus, adapter):
    from ultralytics.data import loaders

    adapter.enable()
    ds = loaders.LoadImagesAndVideos(str(corpus["h264-bframes.mp4"]), batch=1, vid_stride=12)
    frames = [im for _p, ims, _i in ds for im in ims]
    assert len(frames) == 4
    assert type(ds.cap).__module__ == "smolplug.compat.capture"
    # frames 11, 23, 35, 47: the last of each 12-frame GOP, reached through its reference frames
    # only (B-frames skipped); OpenCV decodes all 48
    assert ds.cap.frames_decoded <= 36, ds.cap.frames_decoded


def test_predictions_are_unchanged(corpus, adapter):
    torch = pytest.importorskip("torch")
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolov8n.yaml")
    path = str(corpus["h264-bpyramid.mp4"])

    def predict():
        return model.predict(path, vid_stride=5, conf=1e-6, imgsz=160, device="cpu", verbose=False)

    off = predict()
    adapter.enable()
    on = predict()
    assert len(on) == len(off) == 48 // 5
    assert sum(len(r.boxes) for r in off) > 100
    for a, b in zip(off, on, strict=True):
        assert np.array_equal(a.orig_img, b.orig_img)
        assert torch.equal(a.boxes.data, b.boxes.data)


def test_example_runs_and_boxes_agree(corpus, tmp_path):
    """examples/ultralytics_stride.py, as a user runs it, on a corpus clip."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "ultralytics_stride.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(corpus["h264-bpyramid.mp4"]), "12"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "boxes identical: True" in proc.stdout
