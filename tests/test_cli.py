"""The command line: plugins, info, and the JPEG benchmark table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smolplug.cli import main


def test_plugins_lists_defaults(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "smolplug.frames.plugin" in out and "smolplug_open_frames" in out


def test_info(capsys):
    assert main(["info"]) == 0
    assert "JPEG backend: native" in capsys.readouterr().out


def test_bench_jpeg_prints_table(tmp_path):
    from .conftest import encode, synthetic_rgb

    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(encode(synthetic_rgb(400, 300, seed=i)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolplug.cli",
            "bench",
            "jpeg",
            "--images",
            str(tmp_path),
            "--repeats",
            "1",
            "--threads",
            "2",
        ],
        capture_output=True,
        text=True,
        env={"COLUMNS": "160", "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    for needle in ("pillow", "simplejpeg", "smolplug", "ms/img", "vs best peer", "2 threads / 1 thread"):
        assert needle in proc.stdout, needle


def test_bench_rejects_missing_dir(capsys, tmp_path):
    assert main(["bench", "jpeg", "--images", str(tmp_path / "nope")]) == 2


@pytest.mark.parametrize("argv", [[], ["bench"]])
def test_usage_errors(argv):
    with pytest.raises(SystemExit):
        main(argv)


def test_adapters_lists_the_bundled_ones(capsys):
    assert main(["adapters"]) == 0
    out = capsys.readouterr().out
    for name in ("noscope_ref", "blazeit_ref", "evadb"):
        assert name in out
    assert "start-up hook" in out


def test_demo_with_a_missing_video_fails_cleanly(tmp_path, capsys):
    assert main(["demo", "--video", str(tmp_path / "nope.avi")]) == 2
    assert "not found" in capsys.readouterr().out


@pytest.fixture
def it_cache(tmp_path, monkeypatch):
    """Reference labels and working copies of generated clips go to a temporary cache."""
    monkeypatch.setenv("SMOLPLUG_IT_CACHE", str(tmp_path / "it-cache"))


def test_demo_on_a_clip_the_engines_cannot_fit_says_why(tmp_path, capsys, it_cache):
    """A 68-frame clip: the NoScope-style query cannot hold out enough frames to check its
    targets. A clear message and a non-zero exit, not an AssertionError from the engine."""
    from .clips import make_clip

    clip = make_clip(tmp_path / "short.mp4", n=68, w=160, h=96)
    assert main(["demo", "--video", str(clip), "--native", "--queries", "noscope"]) == 2
    out = capsys.readouterr().out
    assert "cannot run the demo on this video" in out and "68 frames, too few" in out
    assert "needs at least 90" in out


def test_demo_on_a_file_that_is_no_video_says_so(tmp_path, capsys, it_cache):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    assert main(["demo", "--video", str(junk), "--native"]) == 2
    assert "not a video OpenCV can open" in capsys.readouterr().out


def test_profile_pipeline_runs_two_models_on_a_video(tmp_path, capsys):
    pytest.importorskip("cv2")
    pytest.importorskip("efficientnet_lite_pytorch")
    from .conftest import DATA

    video = DATA / "video" / "vtest.avi"
    if not video.exists():
        pytest.skip(f"{video} not found")
    png = tmp_path / "stages.png"
    args = ["profile", str(video), "--pipeline", "--frames", "3", "--dnn-threads", "1", "--png", str(png)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "frames/s" in out and "second model" in out and "0 frame(s) not decoded" in out
    assert png.stat().st_size > 0
    assert main(["profile", str(tmp_path), "--pipeline"]) == 2  # not a video file
