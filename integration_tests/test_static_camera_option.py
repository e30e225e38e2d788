"""The reference-engine adapters' static-camera plan option: the CNN pass run as an exact static
camera (:mod:`smolplug.explain.static`), timed and costed by the cost model beside the other
candidates (NoScope: per CNN width; BlazeIt: each proxy's plan also as a static-camera plan),
used by the run only where it was chosen, and never changing the query's answers.

Which way the choice goes depends on the machine's timings, so the tests check that the option
is measured and recorded, that the cost follows the record, and — forcing the choice both ways
on one trained engine — that the answers do not change. The clip is a fixed camera encoded
losslessly: a textured background that never changes and one dark square walking through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from integration_tests.engines import blazeit, noscope
from integration_tests.engines.reference import Labels
from smolplug.adapters import blazeit_ref as blazeit_adapter
from smolplug.adapters import get
from smolplug.adapters import noscope_ref as adapter

N, W, H, SIDE = 150, 192, 108, 18


def _square_x(i: int) -> int:
    """Left edge of the square in frame i: in the left third for 15 frames, then elsewhere."""
    if (i // 15) % 2 == 0:
        return 4 + (i % 15) * 2  # walks inside the left third
    return W // 2 + (i % 15) * 3


@pytest.fixture(scope="module")
def static_clip(tmp_path_factory) -> tuple[Path, Labels]:
    import av

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W]
    bg = np.stack([(xx * 1.1) % 256, (yy * 2.0) % 256, (xx + yy) % 256], -1)
    bg = np.clip(bg + rng.normal(0, 12, bg.shape), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("static") / "static.mp4"
    boxes = []
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"qp": "0", "preset": "ultrafast", "g": "30"}  # lossless: the background never moves
        for i in range(N):
            img = bg.copy()
            x, y = _square_x(i), 40 + (i % 7) * 2
            img[y : y + SIDE, x : x + SIDE] = (20, 20, 20)
            box = np.array([[x / W, y / H, (x + SIDE) / W, (y + SIDE) / H, 1.0]], np.float32)
            boxes.append(box if x < W // 3 else box[:0])  # the reference sees it only on the left
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path, Labels(boxes)


def _engine(clip: tuple[Path, Labels]) -> noscope.NoScope:
    path, labels = clip
    return noscope.NoScope(noscope.NoScopeQuery(str(path), cnn_widths=(8, 16)), labels)


def test_the_static_camera_is_measured_and_costed_per_width(static_clip):
    get("noscope_ref").enable(roi_margin=0.1)
    eng = _engine(static_clip)
    eng.train()
    assert set(eng._smolplug_static) == {8, 16}  # one measurement per candidate width
    for pick in eng._smolplug_static.values():
        assert pick["frames"] >= 2 and pick["whole_fps"] > 0 and pick["static_fps"] > 0
        assert pick["chosen"] == (pick["static_fps"] > adapter.STATIC_MARGIN * pick["whole_fps"])
    # the cascade's cost follows the record: the CNN stage priced at the chosen rate (decoding
    # made free here, or the CNN may hide under it and any rate would cost the same)
    eng._smolplug_decode_fps = 1e12
    w = eng.cascade.width
    args = (100, 99, 100, 0, w)
    priced = eng.cascade_cost(*args)
    eng._smolplug_static[w] = {**eng._smolplug_static[w], "chosen": True, "speedup": 1000.0}
    cheap = eng.cascade_cost(*args)
    eng._smolplug_static[w] = {**eng._smolplug_static[w], "chosen": False}
    assert cheap < eng.cascade_cost(*args)
    assert priced <= eng.cascade_cost(*args) + 1e-9


def test_answers_do_not_change_when_the_run_uses_the_static_camera(static_clip, monkeypatch):
    from smolplug.explain import static

    get("noscope_ref").enable(roi_margin=0.1)
    eng = _engine(static_clip)
    eng.train()
    w = eng.cascade.width
    ran = []
    real = static.StaticCamera.run
    monkeypatch.setattr(static.StaticCamera, "run", lambda cam, x: ran.append(cam) or real(cam, x))

    eng._smolplug_static[w] = {**eng._smolplug_static[w], "chosen": False}
    whole = eng.run()
    assert not ran
    eng._smolplug_static[w] = {**eng._smolplug_static[w], "chosen": True}
    inc = eng.run()
    assert ran  # the run's CNN pass went through the static camera
    assert ran[-1].stats.frames == inc.cnn_calls
    assert ran[-1].stats.mean_changed_share < 0.5  # a fixed camera: a small part of each frame changed
    np.testing.assert_array_equal(inc.frames, whole.frames)
    np.testing.assert_array_equal(inc.predicted, whole.predicted)
    assert inc.oracle_calls == whole.oracle_calls


def test_static_predict_matches_the_hosts_predict_on_the_clips_frames(static_clip):
    import weakref

    from smolplug.adapters._timing import static_predict

    get("noscope_ref").enable(roi_margin=0.1)
    eng = _engine(static_clip)
    eng.train()
    _, small = eng._smolplug_cnn_frames
    x = np.ascontiguousarray(eng._cnn_input(small), np.float32)
    original = noscope.predict.__wrapped__
    chosen = weakref.WeakSet([eng.model])
    got = static_predict(original, chosen)(eng.model, x, 16)
    want = original(eng.model, x, 16)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_option_can_be_switched_off(static_clip):
    get("noscope_ref").enable(roi_margin=0.1, static_camera=False)
    eng = _engine(static_clip)
    eng.train()
    assert not eng.__dict__.get("_smolplug_static")
    assert not hasattr(noscope.predict, "__wrapped__")


# -- the BlazeIt-style adapter: every candidate proxy also as a static-camera plan ----------------
def _blazeit(clip: tuple[Path, Labels]) -> blazeit.BlazeIt:
    path, labels = clip
    return blazeit.BlazeIt(str(path), labels, proxies=((8, 32), (16, 32)))


def _pick(monkeypatch, static: bool | None) -> dict:
    """Record the plans the cost model chose among (``["seen"]``); ``["static"]`` True / False:
    choose among the static-camera plans / the others only (None: all). Call it before
    enabling the adapter (which binds ``select_plan``)."""
    import smolplug.api

    real, state = smolplug.api.select_plan, {"static": static, "seen": []}

    def select(plans, *a, **k):
        state["seen"].append([p.name for p in plans])
        if state["static"] is not None:
            plans = [p for p in plans if p.name.endswith(blazeit_adapter.STATIC) == state["static"]]
        return real(plans, *a, **k)

    monkeypatch.setattr(smolplug.api, "select_plan", select)
    return state


def test_blazeit_costs_each_proxy_also_as_a_static_camera(static_clip, monkeypatch):
    seen = _pick(monkeypatch, None)["seen"]
    get("blazeit_ref").enable(queries=())
    eng = _blazeit(static_clip)
    eng.train()
    names = [c.name for c in eng.candidates]
    assert seen[-1] == [n for c in names for n in (c, c + blazeit_adapter.STATIC)]
    choice = eng._smolplug_choice
    for n in seen[-1]:
        assert choice.estimates[n].throughput > 0  # every plan measured and costed
    assert eng._smolplug_static == choice.plan.name.endswith(blazeit_adapter.STATIC)
    assert eng.proxy.name == choice.plan.name.removesuffix(blazeit_adapter.STATIC)


def test_blazeit_scores_do_not_change_with_the_static_camera(static_clip, monkeypatch):
    pick = _pick(monkeypatch, False)
    get("blazeit_ref").enable(queries=())
    eng = _blazeit(static_clip)
    eng.train()
    whole, data, _ = eng.score_all()
    assert "static" not in data.details["executor"]
    pick["static"] = True
    eng.select_proxy(eng.candidates)  # the same trained proxies, the static-camera plans only
    assert eng._smolplug_static
    eng.model = eng.proxy.model
    inc, data, _ = eng.score_all()
    assert data.details["executor"] == "static-camera (torch)"
    assert len(inc) == eng.n_frames
    np.testing.assert_allclose(inc, whole, rtol=1e-4, atol=1e-4)


def test_blazeit_static_camera_option_can_be_switched_off(static_clip, monkeypatch):
    seen = _pick(monkeypatch, None)["seen"]
    get("blazeit_ref").enable(queries=(), static_camera=False)
    eng = _blazeit(static_clip)
    eng.train()
    assert not any(n.endswith(blazeit_adapter.STATIC) for n in seen[-1])
