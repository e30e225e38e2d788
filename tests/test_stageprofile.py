"""`smolplug profile`: the per-stage table and the stacked-bar PNG, for JPEG folders and video."""

from __future__ import annotations

import numpy as np

from smolplug.cli import main

from .clips import make_clip


def _model():
    """A stand-in classifier (any callable on the batch is an executor)."""
    return lambda x: x.reshape(len(x), -1).mean(axis=1)


def test_profile_jpeg_folder_prints_stages_and_writes_png(jpeg_dir, tmp_path, capsys):
    png = tmp_path / "p.png"
    argv = ["profile", str(jpeg_dir), "--frames", "10", "--size", "32", "--batch", "4", "--png", str(png)]
    assert main([*argv, "--model", "tests.test_stageprofile:_model"]) == 0
    out = capsys.readouterr().out
    for stage in ("decode", "resize", "normalize", "infer", "decode+preprocess", "frames/s"):
        assert stage in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_video_without_a_model(tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", n=20, w=160, h=96)
    assert main(["profile", str(clip), "--frames", "12", "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "c.mp4: 12 frames" in out


def test_profile_bad_inputs(tmp_path):
    assert main(["profile", str(tmp_path / "nope")]) == 2
    assert main(["profile", str(tmp_path), "--model", "nomodule"]) == 2


def test_both_paths_see_the_same_frames(jpeg_dir):
    from smolplug.spec import FrameSpec
    from smolplug.stageprofile import profile_off, profile_on

    spec = FrameSpec.imagenet(32, 36)
    off = profile_off(jpeg_dir, spec, 7, None, 4)
    on = profile_on(jpeg_dir, spec, 7, None, 4, 1)
    assert off.frames == on.frames == 7
    assert np.isfinite(off.wall) and off.stages["decode"] > 0 and on.stages["decode+preprocess"] > 0


def test_profile_on_a_missing_gpu_says_what_to_install(jpeg_dir, capsys):
    import pytest

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    argv = ["profile", str(jpeg_dir), "--frames", "4", "--size", "32", "--model", "tests.test_executors:tiny"]
    assert main([*argv, "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().out
