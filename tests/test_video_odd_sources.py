"""Renditions and the command line on videos whose timestamps cannot be trusted or that carry a
display rotation: packed B-frames in AVI, edit lists, duplicate timestamps, rotated phone video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV not installed")

from smolplug import FrameRequest, FrameSpec  # noqa: E402
from smolplug.cli import main  # noqa: E402
from smolplug.video import VideoReader, load_index  # noqa: E402
from smolplug.video.renditions import list_renditions, make_renditions  # noqa: E402

from . import media  # noqa: E402
from .media import sequential_rgb  # noqa: E402

ODD = ["mpeg4-packed.avi", "h264-editlist.mp4", "h264-dup-ts.mkv", "h264-rot90.mp4", "h264-cut.ts"]


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> dict[str, Path]:
    return media.build_corpus(tmp_path_factory.mktemp("odd"), ODD)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))


def _rgb(path: Path, spec: FrameSpec, frames: list[int], headroom: float) -> tuple[VideoReader, np.ndarray]:
    reader = VideoReader(path, FrameRequest(spec, frames=frames, scale_headroom=headroom))
    data = np.concatenate([b.data.copy() for b in reader])
    return reader, data.astype(np.float32)


@pytest.mark.parametrize("clip", ODD)
def test_renditions_of_odd_sources_keep_every_frame_in_place(odd, clip):
    src = odd[clip]
    ix = load_index(src)
    n = ix.n_frames
    assert n == len(sequential_rgb(src))
    (rend,) = make_renditions(src, [ix.height // 2])
    assert [r.path for r in list_renditions(src)] == [rend.path]
    assert load_index(rend.path).n_frames == n
    h, w = ix.display_height // 2, ix.display_width // 2
    spec = FrameSpec(h, w, layout="NHWC", dtype="uint8")
    frames = [0, 1, n // 2, n - 2, n - 1]
    low_reader, low = _rgb(src, spec, frames, 1.0)
    assert low_reader.rendition is not None
    _, full = _rgb(src, spec, frames, float("inf"))
    for k in range(len(frames)):
        d = [np.abs(low[k] - full[j]).mean() for j in range(len(frames))]
        # the same frame (closest of the five), in display orientation
        assert int(np.argmin(d)) == k and d[k] < 6, (clip, frames[k], d)


def test_plan_command_on_a_packed_avi(odd, tmp_path, capsys):
    src = odd["mpeg4-packed.avi"]
    args = ["plan", str(src), "--model", "tests.test_planning:brightness_model", "--sizes", "32,16"]
    assert main([*args, "--seconds", "0.02", "--sample", "20", "--target", "0.1"]) == 0
    assert "chosen" in capsys.readouterr().out


def test_renditions_command_on_a_packed_avi(odd, capsys):
    src = odd["mpeg4-packed.avi"]
    assert main(["renditions", "make", str(src), "--heights", "48"]) == 0
    assert [r.height for r in list_renditions(src)] == [48]
