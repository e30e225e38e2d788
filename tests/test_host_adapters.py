"""The decord and supervision adapters against the real packages: the same frames, the same
properties, with the adapter off and on; sources they do not take stay with the host."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smolplug.adapters import get

av = pytest.importorskip("av", reason="PyAV not installed")


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
    bad = tmp_path / "frames.bin"
    bad.write_bytes(b"x" * 100)
    with pytest.raises(Exception) as theirs:  # noqa: B017 - decord's own error, whatever it is
        decord.VideoReader(str(bad))
    assert not type(theirs.value).__module__.startswith("smolplug")
    fake = tmp_path / "fake.mp4"  # a video suffix, not a video: decord answers, as without smolplug
    fake.write_bytes(b"x" * 100)
    with pytest.raises(type(theirs.value)):
        decord.VideoReader(str(fake))
    with open(bad, "rb") as f, pytest.raises(type(theirs.value)):  # the same as a stream
        decord.VideoReader(f)
    assert not list(tmp_path.glob("smolplug-decord-*"))
    get("decord").disable()
    assert decord.VideoReader is original


def test_decord_adapter_reads_file_objects(corpus, adapter):
    """decord takes file objects (Ray Data's read_videos passes Arrow streams): so does the
    adapter, through a temporary copy removed with the reader."""
    decord = pytest.importorskip("decord")
    path = corpus["h264-bframes.mp4"]
    idx = list(range(0, 48, 7))
    with open(path, "rb") as f:
        off = decord.VideoReader(f).get_batch(idx).asnumpy()
    adapter("decord")
    with open(path, "rb") as f:
        vr = decord.VideoReader(f)
    assert type(vr).__module__.startswith("smolplug")
    spooled = vr._spooled
    assert spooled is not None and Path(spooled).is_file()
    on = vr.get_batch(idx).asnumpy()
    assert np.abs(off.astype(int) - on).max() <= 2
    vr.close()
    assert not Path(spooled).exists()


def test_decord_adapter_iterates_lazily(corpus, adapter):
    """Enumerating every frame and using one in n (Ray Data's read_videos with fps) decodes
    those frames, not all of them, and gives decord's frames."""
    decord = pytest.importorskip("decord")
    path = str(corpus["h264-bpyramid.mp4"])
    theirs = [f.asnumpy() for i, f in enumerate(decord.VideoReader(path)) if i % 12 == 0]
    adapter("decord")
    vr = decord.VideoReader(path)
    ours = [f.asnumpy() for i, f in enumerate(vr) if i % 12 == 0]
    assert len(ours) == len(theirs) == 4
    assert all(np.abs(a.astype(int) - b).max() <= 2 for a, b in zip(theirs, ours, strict=True))
    assert vr.frames_decoded < 48


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


RAY_SCRIPT = """
import json, sys
import numpy as np, ray, ray.data
from smolplug.ray.local import init
init(num_cpus=1, address="local")
def probe(batch):  # fused with the read: runs in the process that read the frames
    import decord
    batch["reader"] = np.array([decord.VideoReader.__module__] * len(batch["frame_index"]))
    return batch
out = {}
for mode in ("0", "decord"):
    remote = {"runtime_env": {"env_vars": {"SMOLPLUG": mode}}}
    ds = ray.data.read_videos(sys.argv[1], fps=2, **remote).map_batches(probe, batch_format="numpy", **remote)
    rows = sorted(ds.take_all(), key=lambda r: int(r["frame_index"]))
    np.save(f"{sys.argv[2]}/{mode}.npy", np.stack([r["frame"] for r in rows]))
    readers = sorted({str(r["reader"]) for r in rows})
    out[mode] = {"index": [int(r["frame_index"]) for r in rows], "reader": readers}
print("RESULT", json.dumps(out))
"""


def test_ray_read_videos_reads_through_the_decord_drop_in(corpus, tmp_path):
    """Ray Data's read_videos, unchanged, with SMOLPLUG=decord in its tasks' environment: the
    workers read with the drop-in (Ray hands it an Arrow stream), the same frames come back."""
    pytest.importorskip("ray.data", reason="Ray not installed (pip install 'smolplug[ray]')")
    pytest.importorskip("decord")
    import json
    import subprocess
    import sys

    path = corpus["h264-bpyramid.mp4"]
    with av.open(str(path)) as c:
        stride = round(float(c.streams.video[0].average_rate) / 2)
    run = subprocess.run(
        [sys.executable, "-c", RAY_SCRIPT, str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["0"]["index"] == out["decord"]["index"] == list(range(0, 48, stride))
    assert out["0"]["reader"] == ["decord.video_reader"]
    assert out["decord"]["reader"] == ["smolplug.adapters.decord"]
    off, on = np.load(tmp_path / "0.npy"), np.load(tmp_path / "decord.npy")
    assert off.shape == on.shape and np.abs(off.astype(int) - on).max() <= 2
