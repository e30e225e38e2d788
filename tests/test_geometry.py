"""The C geometry (used by the decoder) and its Python twin (used by the fallback) agree,
and implement the documented policies."""

import numpy as np
import pytest

from smolplug import FrameSpec, RegionOutOfBoundsError
from smolplug.request.geometry import compute_geometry

native = pytest.importorskip("smolplug._binding", reason="native extension not built")


def _random_specs(n, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        policy = rng.choice(["exact", "shorter-side-crop", "letterbox"])
        h, w = (int(v) for v in rng.integers(1, 400, 2))
        kw = {}
        if policy == "shorter-side-crop" and rng.random() < 0.7:
            kw["shorter_side"] = int(rng.integers(1, 500))
        W, H = (int(v) for v in rng.integers(1, 3000, 2))
        if rng.random() < 0.4:
            x, y = float(rng.integers(0, W)), float(rng.integers(0, H))
            kw["roi"] = (x, y, float(rng.integers(1, W - x + 1)), float(rng.integers(1, H - y + 1)))
        yield FrameSpec(h, w, resize=str(policy), **kw), W, H


def test_python_and_c_geometry_agree():
    for spec, W, H in _random_specs(3000):
        py = compute_geometry(spec, W, H)
        c = native.native_geometry(spec, W, H)
        assert c[4:] == py[4:], (spec, W, H)
        assert np.allclose(c[:4], py[:4], rtol=1e-12, atol=1e-9), (spec, W, H)


def test_roi_outside_is_reported_by_both():
    spec = FrameSpec(10, 10, roi=(90, 0, 20, 10))
    with pytest.raises(RegionOutOfBoundsError):
        compute_geometry(spec, 100, 100)
    assert native.native_geometry(spec, 100, 100) == 8  # SP_ERR_ROI


def test_shorter_side_crop_matches_torchvision_formulas():
    # torchvision: Resize(256) on 500x375 -> 341x256; CenterCrop(224): left=round(58.5)=58, top=round(16)=16
    g = compute_geometry(FrameSpec(224, 224, resize="shorter-side-crop", shorter_side=256), 500, 375)
    k = 375 / 256
    assert (g.dx, g.dy, g.dw, g.dh) == (0, 0, 224, 224)
    assert g.sx == pytest.approx(58 * 500 / 341) and g.sy == pytest.approx(16 * k)
    assert g.sw == pytest.approx(224 * 500 / 341) and g.sh == pytest.approx(224 * k)


def test_shorter_side_crop_pads_when_crop_is_larger():
    g = compute_geometry(FrameSpec(224, 224, resize="shorter-side-crop", shorter_side=100), 300, 200)
    # resized to 150x100: centred, zero padded like torchvision's CenterCrop
    assert (g.dx, g.dy, g.dw, g.dh) == (37, 62, 150, 100)
    assert (g.sx, g.sy, g.sw, g.sh) == (0, 0, 300, 200)


def test_letterbox_centres_and_keeps_aspect():
    g = compute_geometry(FrameSpec(100, 100, resize="letterbox"), 400, 200)
    assert (g.dx, g.dy, g.dw, g.dh) == (0, 25, 100, 50)
    g = compute_geometry(FrameSpec(100, 100, resize="letterbox", roi=(0, 0, 100, 400)), 400, 400)
    assert (g.dx, g.dy, g.dw, g.dh) == (37, 0, 25, 100)


def test_exact_maps_roi_to_whole_output():
    g = compute_geometry(FrameSpec(7, 9, roi=(10, 20, 30, 40)), 100, 100)
    assert g == (10, 20, 30, 40, 0, 0, 9, 7)


def test_status_codes_match_the_native_enum():
    from smolplug import Status

    renamed = {"ROI": "ROI_OUT_OF_BOUNDS", "NOMEM": "NO_MEMORY", "INVALID": "INVALID_INPUT"}
    for name, value in native.NATIVE_STATUS.items():
        assert Status[renamed.get(name, name)] == value, name
