"""The NoScope- and BlazeIt-style queries, plugin off vs on: same guarantees, less decoding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from integration_tests.engines import blazeit, noscope
from integration_tests.engines.common import UnfitVideoError
from integration_tests.engines.reference import Labels
from integration_tests.workload import ROOT, check_queries, labels_for, reference_seconds, run_all
from smolplug.adapters import get
from smolplug.adapters.blazeit_ref import expected_limit_calls, expected_sampling_calls
from smolplug.errors import MissingFrameError
from tests.clips import make_clip


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

    assert on["selected_by"] == "smolplug cost model (pipeline + reference calls)"
    assert on["corr"] >= BLAZEIT_MIN_CORR
    pred, work, corr, secs = on["predicted"], on["work"], on["candidates"], on["predicted_seconds"]
    ok = [n for n, c in corr.items() if c >= BLAZEIT_MIN_CORR]
    assert on["proxy"] == min(ok, key=lambda n: (secs[n], -pred[n], work[n], -corr[n]))
    assert on["predicted_fps"] == pred[on["proxy"]] and on["measured_fps"] > 0


def test_blazeit_plans_include_the_expected_reference_calls_at_their_cost(runs):
    """Each candidate's predicted seconds = every frame through its pipeline + its expected
    reference calls (both queries) x the reference model's measured cost per call."""
    on = runs[True]["aggregate"].details
    calls = on["expected_calls"]
    assert set(calls) == set(on["candidates"])
    for name, per_query in calls.items():
        assert set(per_query) == {"aggregate", "limit"}
        assert 30 <= per_query["aggregate"] <= 795 and blazeit.LIMIT_N <= per_query["limit"] <= 795
        pipeline = 795 / on["predicted"][name]
        assert on["predicted_seconds"][name] > pipeline + 0.01 * sum(per_query.values())  # HOG: > 10 ms


@pytest.mark.parametrize("query", ["noscope", "aggregate", "limit"])
def test_plugin_decodes_fewer_pixels(runs, query):
    off, on = runs[False][query], runs[True][query]
    assert on.frames_decoded <= off.frames_decoded
    assert on.pixels_decoded < off.pixels_decoded / 3  # 288p/144p renditions instead of 576p


@pytest.mark.parametrize("query", ["noscope", "aggregate", "limit"])
def test_with_reference_calls_charged_plugin_on_is_not_slower(runs, video, query):
    """Time includes every reference call: its frame fetched at full resolution by random access
    (off: OpenCV seek + read, on: smolplug's sampled decoding) and HOG's measured seconds per
    call charged. Plugin on <= plugin off. (Before the plans counted reference calls, the
    plugin-on NoScope-style and limit queries made 69 and 28 calls against 55 and 19, and were
    slower by this measure.)"""
    off, on = runs[False][query], runs[True][query]
    assert on.seconds <= off.seconds, (off.oracle_calls, on.oracle_calls)
    for r in (off, on):
        assert r.detector_seconds == pytest.approx(r.oracle_calls * reference_seconds(video))
        assert (r.fetch_seconds > 0) == (r.oracle_calls > 0)


def test_noscope_adapter_keeps_the_margin_with_the_cheapest_cascade(runs):
    on = runs[True]["noscope"].details
    costs = on["margin_costs"]
    assert set(costs) == {0.1, 0.25, 0.4}
    assert on["roi_margin"] == min(costs, key=costs.__getitem__)
    assert on["cascade"].cost == costs[on["roi_margin"]]
    assert runs[False]["noscope"].details["roi_margin"] is None  # the engine's own loader: whole frames


def test_noscope_adapter_prices_reference_calls_at_their_measured_cost(video, labels):
    """A call costs the detector's seconds plus fetching its frame with smolplug (none when the
    engine answers from labels without fetching)."""
    from smolplug.adapters._frames import fetch_seconds

    get("noscope_ref").enable(reference_seconds=0.25)
    for mode, fetch in (("charge", fetch_seconds(video, 795)), ("labels", 0.0)):
        eng = noscope.NoScope(noscope.NoScopeQuery(str(video)), labels, reference=mode)
        eng._smolplug_decode_fps = 600.0  # as the adapter's loader records it
        extra = eng.cascade_cost(100, 99, 100, 10, 16) - eng.cascade_cost(100, 99, 100, 0, 16)
        assert extra == pytest.approx(10 * (0.25 + fetch))
    assert 0 < fetch_seconds(video, 795) < 0.25


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


# -- expected reference calls (the BlazeIt-style adapter's estimates) ------------------------------
def test_limit_estimate_follows_ranking_quality():
    rng = np.random.default_rng(0)
    frames = np.arange(2, 3000, 3)  # held-out frames of a 3000-frame video
    counts = (rng.random(len(frames)) < 0.2) * 5  # 20% of frames have 5 people
    perfect = counts + rng.random(len(frames)) * 0.1
    noisy = counts + rng.normal(0, 15, len(frames))  # a weak ranking
    random = rng.random(len(frames))
    est = [expected_limit_calls(s, counts, frames, 3000, 10, 4, 10) for s in (perfect, noisy, random)]
    assert est[0] == pytest.approx(10, abs=1.5)  # every call a hit
    assert est[0] < est[1] < est[2]
    assert est[2] == pytest.approx(10 / 0.2, rel=0.5)  # a random ranking: 1 hit in 5 calls


def test_sampling_estimate_falls_with_correlation():
    rng = np.random.default_rng(1)
    truth = rng.poisson(2.6, 300).astype(float)
    weak, strong = truth + rng.normal(0, 3, 300), truth + rng.normal(0, 0.3, 300)
    n_weak, n_strong = (expected_sampling_calls(p, truth, 900, 0.1, 0.05, 30) for p in (weak, strong))
    assert 30 <= n_strong < n_weak <= 900
    assert expected_sampling_calls(truth, truth, 900, 0.1, 0.05, 30) == 30  # z is constant: the minimum


# -- videos the engines cannot run a query on: typed errors that say why -------------------------
def _labels(counts, x: float = 0.1) -> Labels:
    """Labels with ``counts[i]`` people in frame i, their boxes centred at ``x``."""
    box = np.array([[x - 0.05, 0.4, x + 0.05, 0.6, 1.0]], np.float32)
    return Labels([np.repeat(box, c, axis=0) for c in counts])


@pytest.fixture(scope="module")
def clip120(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "c120.mp4", n=120, w=160, h=96)


def test_noscope_without_people_says_so_instead_of_asserting(clip120):
    eng = noscope.NoScope(noscope.NoScopeQuery(str(clip120)), _labels([0] * 120))
    with pytest.raises(UnfitVideoError, match="in none of its 120 frames"):
        eng.train()


def test_noscope_with_too_few_held_out_positives_says_how_many_it_needs(clip120):
    counts = [1 if i % 12 == 2 else 0 for i in range(120)]  # 10 held-out positives
    eng = noscope.NoScope(noscope.NoScopeQuery(str(clip120)), _labels(counts))
    with pytest.raises(UnfitVideoError, match=r"10 of the 40 held-out frames are with .* at least 15"):
        eng.train()


def test_noscope_on_a_short_clip_says_it_is_too_short(tmp_path):
    clip = make_clip(tmp_path / "c68.mp4", n=68)
    eng = noscope.NoScope(noscope.NoScopeQuery(str(clip)), _labels([1] * 68))
    with pytest.raises(UnfitVideoError, match="68 frames, too few .* at least 90"):
        eng.train()


def test_blazeit_without_people_says_so(clip120):
    eng = blazeit.BlazeIt(str(clip120), _labels([0] * 120))
    with pytest.raises(UnfitVideoError, match="no people in any of its 120 frames"):
        eng.train()
    eng = blazeit.BlazeIt(str(clip120), _labels([2] * 120))
    with pytest.raises(UnfitVideoError, match="all 40 training frames have 2 people"):
        eng.train()


def test_workload_checks_the_limit_query_can_find_its_frames(clip120):
    counts = [5 if i in (10, 50, 90) else 1 for i in range(120)]
    with pytest.raises(UnfitVideoError, match="at most 3 such frames"):
        check_queries(clip120, _labels(counts), ("limit",))
    check_queries(clip120, _labels(counts), ("aggregate",))  # the aggregate query can run


def test_unreadable_or_mislabelled_videos_are_typed_errors(tmp_path, clip120):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(UnfitVideoError, match="not a video OpenCV can open"):
        labels_for(junk)
    with pytest.raises(UnfitVideoError, match="120 frames but 7 reference labels"):
        noscope.NoScope(noscope.NoScopeQuery(str(clip120)), _labels([0] * 7))
