"""Calibration: measurements, the profile cache and its invalidation, the command."""

from __future__ import annotations

import json

import pytest

from smolplug.cli import main
from smolplug.plan import calibrate as cal

ENV = {"machine": "x86_64", "cpu": "test cpu", "cores": 2, "smolplug": "0.1.0", "av": "18.1.0"}


def test_measured_entries_are_cached_and_reused(tmp_path):
    p = cal.Profile.load(tmp_path, ENV)
    calls = []
    assert p.measure("decode|a|full|8x8", 1, lambda: calls.append(1) or 123.0) == 123.0
    p.save()
    again = cal.Profile.load(tmp_path, ENV)
    assert again.measure("decode|a|full|8x8", 1, lambda: calls.append(1) or 999.0) == 123.0
    assert len(calls) == 1
    assert again.measure("decode|a|full|8x8", 1, lambda: 456.0, force=True) == 456.0
    assert again.stage("decode", "decode|a|full|8x8").rate(1) == 456.0
    with pytest.raises(KeyError, match="smolplug calibrate"):
        again.stage("dnn", "dnn|nope")


def test_a_new_machine_or_library_version_starts_a_new_profile(tmp_path):
    p = cal.Profile.load(tmp_path, ENV)
    p.measure("e", 1, lambda: 1.0)
    p.save()
    newer = dict(ENV, av="19.0.0")
    q = cal.Profile.load(tmp_path, newer)
    assert q.key != p.key and q.path != p.path and q.entries == {}
    assert cal.Profile.load(tmp_path, ENV).entries == {"e": {"1": 1.0}}


@pytest.mark.parametrize(
    "content", ["not json", json.dumps({"version": 0, "env": ENV, "entries": {"e": {}}})]
)
def test_unreadable_or_old_profiles_are_ignored(tmp_path, content):
    p = cal.Profile.load(tmp_path, ENV)
    p.path.write_text(content)
    assert cal.Profile.load(tmp_path, ENV).entries == {}


def test_environment_names_the_hardware_and_libraries():
    env = cal.environment()
    assert env["cores"] >= 1 and env["cpu"] and env["av"] and env["numpy"]
    assert cal.profile_key(env) == cal.profile_key(dict(env))


def test_preprocessing_and_dnn_rates_are_measured(jpeg_dir):
    full = cal.measure_preprocessing(jpeg_dir, 32, 32, mode="full", seconds=0.05)
    reduced = cal.measure_preprocessing(jpeg_dir, 32, 32, mode="reduced", seconds=0.05)
    assert full > 0 and reduced > 0
    dnn = cal.measure_dnn(lambda x: x.mean(axis=(1, 2, 3)), 16, 16, batch_size=8, seconds=0.05)
    assert dnn > 0
    with pytest.raises(ValueError, match="mode"):
        cal.measure_preprocessing(jpeg_dir, 32, 32, mode="magic")


def test_calibrate_command_measures_and_saves(jpeg_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["calibrate", "--images", str(jpeg_dir), "--sizes", "32", "--threads", "1", "--seconds", "0.05"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "decode|imgs|full|32x32" in out and "decode|imgs|reduced|32x32" in out
    saved = list((tmp_path / "cache").glob("calibration-*.json"))
    assert len(saved) == 1
    entries = json.loads(saved[0].read_text())["entries"]
    assert float(entries["decode|imgs|full|32x32"]["1"]) > 0
    assert main(["calibrate", "--images", str(tmp_path / "nope")]) == 2
    assert main(["calibrate", "--images", str(jpeg_dir), "--model", "bad"]) == 2
