"""`smolplug profile`: the per-stage table and the stacked-bar PNG, for JPEG folders and video;
both sides timed warm, on frames the source has."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from smolplug.cli import main

from .clips import make_clip


def _model():
    """A stand-in classifier (any callable on the batch is an executor)."""
    return lambda x: x.reshape(len(x), -1).mean(axis=1)


SETUP_SECONDS = 0.6  #: the stand-in model's one-off set-up (like an ONNX export or a backend choice)


class _SlowStart:
    """A stand-in model whose first call pays a one-off set-up, as the ``auto`` executor's does,
    and every call ``per_call`` seconds."""

    def __init__(self, per_call: float = 0.0) -> None:
        self.calls = 0
        self.per_call = per_call

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        time.sleep(self.per_call + (SETUP_SECONDS if self.calls == 1 else 0.0))
        return x.reshape(len(x), -1).mean(axis=1)


def _stage_ms(out: str, stage: str) -> tuple[float, ...]:
    """The per-frame milliseconds of one row of the printed table."""
    row = next(line for line in out.splitlines() if re.match(rf"\W*{re.escape(stage)}\s*│", line))
    return tuple(float(v) for v in re.findall(r"\d+\.\d+", row))


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


def test_profile_video_shorter_than_frames_profiles_what_it_has(tmp_path, capsys):
    """--frames beyond the end of a short video: every frame it has, on both sides."""
    clip = make_clip(tmp_path / "c.mp4", n=20, w=160, h=96)
    assert main(["profile", str(clip), "--frames", "30", "--size", "32", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "c.mp4: 20 frames" in out and "has 20 frames" in out


def test_executor_setup_is_reported_apart_not_charged_to_plugin_off(jpeg_dir, capsys):
    argv = ["profile", str(jpeg_dir), "--frames", "12", "--size", "32", "--batch", "4"]
    assert main([*argv, "--model", "tests.test_stageprofile:_SlowStart"]) == 0
    out = capsys.readouterr().out
    infer_off, infer_on = _stage_ms(out, "infer")
    assert max(infer_off, infer_on) * 12 < 1e3 * SETUP_SECONDS / 2, out  # the set-up is in neither side
    setup = float(re.search(r"executor set-up (\d+\.\d+) s", out).group(1))
    assert setup >= SETUP_SECONDS * 0.9, out


@pytest.mark.parametrize("order", [("off", "on"), ("on", "off")])
def test_order_of_the_runs_does_not_change_what_each_side_is_charged(jpeg_dir, order):
    """Whichever side runs first, neither pays the executor's set-up or its own first batch."""
    from smolplug.bench.stages import compare
    from smolplug.execute.executors import CallableExecutor
    from smolplug.request.spec import FrameSpec

    res = compare(jpeg_dir, FrameSpec.imagenet(32, 36), 12, CallableExecutor(_SlowStart()), 4, 1, order)
    assert res.warmup["executor set-up"] >= SETUP_SECONDS * 0.9
    assert res.off.wall < SETUP_SECONDS / 2 and res.on.wall < SETUP_SECONDS / 2
    assert res.off.frames == res.on.frames == 12
    assert math.isfinite(res.speedup) and res.speedup > 0


def test_ratio_is_the_same_in_either_order(jpeg_dir):
    """The ratio of the two sides, measured in both orders, with a model that dominates both
    sides (40 ms a batch, so decoding noise hardly moves it): the same, ~1 (charging the set-up
    to the first side would make it ~0.2 one way and ~5 the other)."""
    from smolplug.bench.stages import compare
    from smolplug.execute.executors import CallableExecutor
    from smolplug.request.spec import FrameSpec

    spec = FrameSpec.imagenet(32, 36)
    ratios = [
        compare(jpeg_dir, spec, 24, CallableExecutor(_SlowStart(per_call=0.04)), 4, 1, order).speedup
        for order in (("off", "on"), ("on", "off"))
    ]
    assert abs(math.log(ratios[0] / ratios[1])) < math.log(1.5), ratios


def test_profile_bad_inputs(tmp_path):
    assert main(["profile", str(tmp_path / "nope")]) == 2
    assert main(["profile", str(tmp_path), "--model", "nomodule"]) == 2
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert main(["profile", str(tmp_path / "junk.mp4"), "--frames", "4"]) == 2


def test_both_paths_see_the_same_frames(jpeg_dir):
    from smolplug.bench.stages import profile_off, profile_on
    from smolplug.request.spec import FrameSpec

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
