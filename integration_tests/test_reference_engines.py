"""The NoScope- and BlazeIt-style queries, plugin off vs on: same guarantees, less decoding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from integration_tests.engines import blazeit, noscope
from integration_tests.workload import ROOT, run_all
from smolplug.adapters import get
from smolplug.errors import MissingFrameError


@pytest.fixture(scope="module")
def runs(video, labels):
    off = {r.query: r for r in run_all(video, labels, plugin=False)}
    on = {r.query: r for r in run_all(video, labels, plugin=True)}
    return off, on


def test_each_path_loads_through_its_loader(runs):
    off, on = runs
    assert {r.details["loader"] for r in off.values()} == {"opencv"}
    assert {r.details["loader"] for r in on.values()} == {"smolplug"}


@pytest.mark.parametrize("plugin", [False, True], ids=["off", "on"])
def test_noscope_meets_fp_fn_targets(runs, plugin):
    r = runs[plugin]["noscope"]
    assert r.meets_target, r.accuracy
    assert r.details["positives"] > 0


@pytest.mark.parametrize("plugin", [False, True], ids=["off", "on"])
def test_blazeit_aggregate_within_error_bound(runs, plugin):
    r = runs[plugin]["aggregate"]
    assert abs(r.details["estimate"] - r.details["truth"]) <= 0.1, r.accuracy


@pytest.mark.parametrize("plugin", [False, True], ids=["off", "on"])
def test_blazeit_limit_returns_true_hits(runs, plugin, labels):
    r = runs[plugin]["limit"]
    frames = np.asarray(r.details["frames"])
    assert len(frames) == blazeit.LIMIT_N
    assert np.all(labels.counts()[frames] >= blazeit.LIMIT_MIN_COUNT)
    assert np.all(np.diff(np.sort(frames)) > blazeit.LIMIT_GAP)
    assert r.meets_target


def test_blazeit_proxy_choice_off_dnn_only_on_pipelined(runs):
    """Off: the engine keeps the cheapest proxy (multiply-accumulates) reaching the correlation
    target. On: the proxy the engine runs is smolplug_select_plan's — the fastest predicted
    pipeline reaching the target (ties: less work, then accuracy) — run as a pipeline."""
    from integration_tests.workload import BLAZEIT_MIN_CORR

    off, on = runs[False]["aggregate"].details, runs[True]["aggregate"].details
    assert off["selected_by"] == "engine (DNN-only)"
    ok = [n for n, c in off["candidates"].items() if c >= BLAZEIT_MIN_CORR]
    assert off["proxy"] == min(ok, key=off["macs"].__getitem__)

    assert on["selected_by"] == "smolplug pipelined cost model"
    assert on["corr"] >= BLAZEIT_MIN_CORR
    pred, work, corr = on["predicted"], on["work"], on["candidates"]
    ok = [n for n, c in corr.items() if c >= BLAZEIT_MIN_CORR]
    assert on["proxy"] == max(ok, key=lambda n: (pred[n], -work[n], corr[n]))
    assert on["predicted_fps"] == pred[on["proxy"]] and on["measured_fps"] > 0


@pytest.mark.parametrize("query", ["noscope", "aggregate", "limit"])
def test_plugin_decodes_fewer_pixels(runs, query):
    off, on = runs[False][query], runs[True][query]
    assert on.frames_decoded <= off.frames_decoded
    assert on.pixels_decoded < off.pixels_decoded / 3  # 288p/144p renditions instead of 576p


def test_noscope_plugin_decodes_only_what_sampling_needs(video, labels):
    """Without renditions and region of interest, the plugin still skips work the original loader
    does: it stops after the last sampled frame instead of decoding on to the end."""
    get("noscope_ref").enable(roi=False, scale_headroom=float("inf"))
    q = noscope.NoScopeQuery(str(video), k=50)
    eng = noscope.NoScope(q, labels)
    got = eng.load(np.array([10, 60]))
    assert got.loader == "smolplug"
    assert got.frames_decoded == 61  # keyframe 0 .. frame 60, nothing after
    assert got.arrays[0].shape == (2, 100, 100, 3) and got.arrays[1].shape == (2, 50, 50, 3)


def test_adapters_restore_the_host_on_disable():
    original_ns, original_bz = noscope.NoScope.load, blazeit.BlazeIt.load
    with get("noscope_ref"), get("blazeit_ref"):
        assert noscope.NoScope.load is not original_ns
        assert blazeit.BlazeIt.load is not original_bz
    assert noscope.NoScope.load is original_ns
    assert blazeit.BlazeIt.load is original_bz


def test_missing_frame_is_reported_not_dropped(video, labels):
    eng = noscope.NoScope(noscope.NoScopeQuery(str(video)), labels)
    with pytest.raises(OSError, match="frame"):
        eng.load(np.array([5, 100_000]))  # the original loader
    get("noscope_ref").enable()
    with pytest.raises(MissingFrameError, match="100000"):
        eng.load(np.array([5, 100_000]))


def _patched_in_subprocess(env_value: str | None) -> dict[str, bool]:
    code = (
        "import json, integration_tests.engines.noscope as n, integration_tests.engines.blazeit as b;"
        "print(json.dumps({'noscope': n.NoScope.load.__module__.startswith('smolplug'),"
        " 'blazeit': b.BlazeIt.load.__module__.startswith('smolplug')}))"
    )
    env = dict(os.environ)
    env.pop("SMOLPLUG", None)
    if env_value is not None:
        env["SMOLPLUG"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    import json

    return json.loads(out.strip().splitlines()[-1])


def test_smolplug_env_flag_enables_adapters_at_import():
    from smolplug.adapters import autoload_path

    if not Path(autoload_path()).exists():
        pytest.fail(
            f"{autoload_path()} missing: run `smolplug adapters --install-autoload` (scripts/bootstrap does)"
        )
    assert _patched_in_subprocess(None) == {"noscope": False, "blazeit": False}
    assert _patched_in_subprocess("0") == {"noscope": False, "blazeit": False}
    assert _patched_in_subprocess("1") == {"noscope": True, "blazeit": True}
    assert _patched_in_subprocess("blazeit_ref") == {"noscope": False, "blazeit": True}


def test_model_search_keeps_the_cheapest_cascade(video, labels):
    eng = noscope.NoScope(noscope.NoScopeQuery(str(video), cnn_widths=(8, 16)), labels)
    chosen = eng.train()
    assert set(eng.candidates) == {8, 16}
    assert chosen.cost == min(c.cost for c in eng.candidates.values())
    assert eng.model[0].out_channels == chosen.width


def test_adapter_costs_cascades_as_a_pipeline_through_the_hook(video, labels, monkeypatch):
    eng = noscope.NoScope(noscope.NoScopeQuery(str(video)), labels)
    args16, args64 = (100, 99, 100, 0, 16), (100, 99, 100, 0, 64)
    dnn_only = eng.cascade_cost(*args64) / eng.cascade_cost(*args16)
    assert dnn_only > 8  # NoScope's model: 16x the multiply-accumulates, ~16x the cost
    calls = []
    import smolplug.api

    real = smolplug.api.estimate_cost
    monkeypatch.setattr(smolplug.api, "estimate_cost", lambda *a, **k: calls.append(1) or real(*a, **k))
    get("noscope_ref").enable()
    eng._smolplug_decode_fps = 600.0  # as the adapter's loader records it: decoding is the bottleneck
    pipelined = eng.cascade_cost(*args64) / eng.cascade_cost(*args16)
    assert pipelined < dnn_only / 2  # a wider CNN largely hides under decoding
    assert eng.cascade_cost(100, 99, 100, 10, 16) > eng.cascade_cost(*args16)  # reference calls still cost
    assert calls or (os.cpu_count() or 1) < 2
