"""The default frame reader: JPEG files and directories through smolplug_open_frames."""

from __future__ import annotations

import numpy as np
import pytest

import smolplug
from smolplug import FrameRequest, FrameSpec, SpecError, Status, TruncatedError
from smolplug.errors import MissingFrameError
from smolplug.frames.jpegfiles import list_jpeg_files

from .conftest import encode, synthetic_rgb

SPEC = FrameSpec(32, 32)


@pytest.fixture
def folder(tmp_path):
    for i in range(11):
        (tmp_path / f"frame_{i}.jpg").write_bytes(encode(synthetic_rgb(64 + i, 48, seed=i)))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_natural_order(folder):
    names = [p.name for p in list_jpeg_files(folder)]
    assert names[:3] == ["frame_0.jpg", "frame_1.jpg", "frame_2.jpg"] and names[-1] == "frame_10.jpg"


def test_reads_all_frames_in_batches(folder, pm):
    with smolplug.open_frames(folder, FrameRequest(SPEC, batch_size=4), pm=pm) as reader:
        assert len(reader) == 11
        batches = [(b.indices.tolist(), b.data.copy(), b.status.tolist()) for b in reader]
    assert [i for b in batches for i in b[0]] == list(range(11))
    assert [len(b[0]) for b in batches] == [4, 4, 3]
    files = list_jpeg_files(folder)
    for idx, data, status in batches:
        assert status == [0] * len(idx)
        for j, i in enumerate(idx):
            assert np.array_equal(data[j], smolplug.decode_jpeg(files[i].read_bytes(), SPEC))
    assert reader.stats.frames_delivered == 11 and reader.stats.bytes_read > 0


def test_selected_frames_and_ring_reuse(folder, pm):
    req = FrameRequest(SPEC, batch_size=2, frames=[9, 0, 5, 5, 3], ring_size=2)
    with smolplug.open_frames(folder, req, pm=pm) as reader:
        got = list(reader)
    assert [b.indices.tolist() for b in got] == [[9, 0], [5, 5], [3]]
    # memory is bounded: batches reuse the ring's two buffers
    bases = {
        b.data.base.__array_interface__["data"][0] if b.data.base is not None else id(b.data) for b in got
    }
    assert len(bases) == 2


def test_missing_and_corrupt_files_are_reported_not_dropped(folder, pm):
    files = list_jpeg_files(folder)
    files[3].write_bytes(files[3].read_bytes()[:100])
    paths = [str(p) for p in files] + [str(folder / "gone.jpg")]
    req = FrameRequest(SPEC, batch_size=8, on_error="skip")
    with smolplug.open_frames(paths, req, pm=pm) as reader:
        got = list(reader)
    status = np.concatenate([b.status for b in got])
    assert len(status) == 12
    assert status[3] == Status.TRUNCATED and status[11] == Status.IO_ERROR
    assert "gone.jpg" in got[-1].messages[-1]
    assert reader.stats.frames_failed == 2 and reader.stats.frames_delivered == 10
    with pytest.raises(TruncatedError), smolplug.open_frames(paths, FrameRequest(SPEC), pm=pm) as reader:
        list(reader)


def test_request_validation(folder, pm):
    with pytest.raises(SpecError):
        FrameRequest(SPEC, batch_size=0)
    with pytest.raises(SpecError):
        FrameRequest("224", batch_size=1)  # type: ignore[arg-type]
    # an index with no file is reported at its place, like a video frame that does not exist
    req = FrameRequest(SPEC, frames=[11, 0], on_error="skip")
    with smolplug.open_frames(folder, req, pm=pm) as reader:
        (b,) = list(reader)
    assert b.indices.tolist() == [11, 0] and b.status.tolist() == [Status.MISSING, Status.OK]
    assert "does not exist" in b.messages[0]
    with (
        pytest.raises(MissingFrameError),
        smolplug.open_frames(folder, FrameRequest(SPEC, frames=[11]), pm=pm) as r,
    ):
        list(r)


def test_single_file_source(folder, pm):
    with smolplug.open_frames(folder / "frame_1.jpg", FrameRequest(SPEC), pm=pm) as reader:
        (batch,) = list(reader)
    assert batch.sources == [str(folder / "frame_1.jpg")]
