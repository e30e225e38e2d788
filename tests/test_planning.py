"""`smolplug plan`: candidates measured and scored, frontier, chosen plan, refusal, PNG."""

from __future__ import annotations

import numpy as np
import pytest

from smolplug.cli import main
from smolplug.plan.calibrate import Profile
from smolplug.plan.planning import build_plans, filename_labels, report

from .conftest import encode, synthetic_rgb


def brightness_model():
    """Class 1 when the image is brighter than mid-grey: a stand-in classifier."""

    def run(x):
        m = x.reshape(len(x), -1).mean(axis=1)
        return np.stack([-m, m], axis=1)

    return run


@pytest.fixture
def labelled(tmp_path):
    d = tmp_path / "val"
    d.mkdir()
    for i in range(6):
        img = synthetic_rgb(120, 90, seed=i)
        arr = np.asarray(img).astype(np.int16) + (60 if i % 2 else -60)
        from PIL import Image

        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        (d / f"img_{i}_{i % 2}.jpg").write_bytes(encode(img))
    return d


def test_filename_labels():
    from pathlib import Path

    assert filename_labels([Path("a_3.jpg"), Path("imagenet_07_609.jpg")]).tolist() == [3, 609]
    assert filename_labels([Path("a_3.jpg"), Path("nolabel.jpg")]) is None


def test_plans_are_scored_measured_and_chosen(labelled, tmp_path):
    profile = Profile.load(tmp_path)
    plans = build_plans(
        labelled,
        [("bright", brightness_model())],
        [32, 16],
        ["full", "reduced"],
        profile,
        cores=2,
        seconds=0.02,
    )
    assert len(plans) == 4
    assert all(p.accuracy == 1.0 for p in plans)  # brightness separates the two classes exactly
    assert all(len(p.stages) == 2 and p.stages[0].rate(1) > 0 for p in plans)
    rep = report(plans, 0.9, 2)
    best = max(rep.choice.estimates.values(), key=lambda e: e.throughput)
    assert rep.choice.estimate.throughput == best.throughput
    assert profile.entries  # measurements went into the calibration profile


def test_plan_command_prints_frontier_writes_png_and_refuses_unreachable_targets(
    labelled, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))
    png = tmp_path / "plan.png"
    base = ["plan", str(labelled), "--model", "tests.test_planning:brightness_model", "--sizes", "32,16"]
    assert main([*base, "--seconds", "0.02", "--target", "0.5", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "chosen" in out and "frontier" in out and "brightness_model@16-reduced" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main([*base, "--seconds", "0.02", "--target", "1.5"]) == 1
    assert "no plan reaches accuracy 1.5" in capsys.readouterr().out
    assert main(["plan", str(tmp_path / "nope"), "--model", "x:y"]) == 2


def test_plans_for_a_video_scan_every_frame_and_score_agreement_on_a_sample(tmp_path, monkeypatch, capsys):
    from .clips import make_clip

    video = make_clip(tmp_path / "clip.mp4", n=48, w=320, h=192)
    profile = Profile.load(tmp_path)
    plans = build_plans(
        video,
        [("bright", brightness_model())],
        [64, 32],
        ["full", "reduced"],
        profile,
        cores=2,
        seconds=0.02,
        sample=12,
    )
    by = {p.name: p for p in plans}
    assert set(by) == {"bright@64-full", "bright@64-reduced", "bright@32-full", "bright@32-reduced"}
    assert by["bright@64-full"].accuracy == 1.0  # the reference agrees with itself
    assert all(0 <= p.accuracy <= 1 and p.params["labels"] == "reference" for p in plans)
    assert all(p.stages[0].rate(1) > 0 and p.stages[1].rate(2) > 0 for p in plans)
    assert any(k.startswith("decode|clip.mp4|reduced|32x32") for k in profile.entries)

    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))
    args = ["plan", str(video), "--model", "tests.test_planning:brightness_model", "--sizes", "32"]
    assert main([*args, "--seconds", "0.02", "--sample", "8", "--target", "0.5"]) == 0
    assert "clip.mp4: plans at accuracy >= 0.5" in capsys.readouterr().out
    (tmp_path / "notes.txt").write_text("x")
    assert main(["plan", str(tmp_path / "notes.txt"), "--model", "x:y"]) == 2
