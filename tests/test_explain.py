"""Incremental occlusion: the window arithmetic against brute force, every position's logits
against re-running the occluded image on random small CNNs (borders, corners, odd sizes,
strides, depthwise, padding layers, pooling, residual adds, fallbacks, untraceable models),
attributions against Captum's ``Occlusion``, approximate modes, real EfficientNet-Lite0."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from smolplug.explain import Incremental, occlusion  # noqa: E402
from smolplug.explain.occlusion import Occluder, grid  # noqa: E402
from smolplug.explain.windows import Axis, affected, common, reads  # noqa: E402


def occluded(x: torch.Tensor, i: int, j: int, patch, stride, baseline=0.0) -> torch.Tensor:
    xo = x.clone()
    b = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    sl = (
        slice(None),
        slice(None),
        slice(i * stride[0], i * stride[0] + patch[0]),
        slice(j * stride[1], j * stride[1] + patch[1]),
    )
    xo[sl] = b[sl]
    return xo


def check_exact(model, x, patch, stride, baseline=0.0, tol=1e-4, **kw):
    """Every grid position's logits against the model on the occluded image."""
    model.eval()
    r = occlusion(model, x, patch, stride, baseline, return_logits=True, batch_size=7, **kw)
    P, S = (
        (patch, patch) if isinstance(patch, int) else patch,
        (stride, stride) if isinstance(stride, int) else stride,
    )
    ny, nx = grid(tuple(x.shape[-2:]), P, S)
    assert r.heatmap.shape == (ny, nx) and r.computed.all()
    with torch.no_grad():
        batch = torch.cat([occluded(x, i, j, P, S, baseline) for i in range(ny) for j in range(nx)])
        ref = model(batch).reshape(ny, nx, -1).numpy()
    err = np.abs(r.logits - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() < tol, (err.max(), np.unravel_index(err.argmax(), err.shape))
    return r


# -- window arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_affected_window_is_exactly_the_outputs_reading_the_change(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        k, s, p = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        n = int(rng.integers(k, 30))
        out = (n + 2 * p - k) // s + 1
        if out < 1:
            continue
        a, w = int(rng.integers(0, n)), int(rng.integers(1, 6))
        w = min(w, n - a)
        ax = Axis(k, s, p, n, out)
        lo, hi = affected(np.array([a]), w, ax)
        truth = [o for o in range(out) if set(range(o * s - p, o * s - p + k)) & set(range(a, a + w))]
        got = list(range(int(lo[0]), int(hi[0])))
        assert got == truth, (k, s, p, n, a, w)
        if truth:
            start, width = common(lo, hi, out)
            r0, rn = reads(start, width, ax)
            assert r0[0] == start[0] * s and rn == (width - 1) * s + k


def test_common_window_stays_inside_and_tau_caps_it():
    lo, hi = np.array([0, 5, 9]), np.array([3, 10, 12])
    start, width = common(lo, hi, 12)
    assert width == 5 and start.tolist() == [0, 5, 7]
    start, width = common(np.array([0]), np.array([12]), 12, tau=0.5)
    assert width == 6 and 0 <= start[0] <= 6


# -- exactness on random small CNNs ---------------------------------------------------------


class Res(nn.Module):
    def __init__(self, c: int, stride: int = 1, depthwise: bool = False):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if stride == 2 else nn.Identity()
        self.a = nn.Conv2d(c, c, 3, stride, padding=0 if stride == 2 else 1, groups=c if depthwise else 1)
        self.bn = nn.BatchNorm2d(c)
        self.b = nn.Conv2d(c, c, 1)
        self.stride = stride

    def forward(self, x):
        y = self.b(F.relu6(self.bn(self.a(self.pad(x)))))
        return y + x if self.stride == 1 else y


def random_cnn(seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    c = int(rng.integers(3, 7))
    layers: list[nn.Module] = [nn.Conv2d(3, c, int(rng.choice([3, 5])), int(rng.integers(1, 3)), padding=1)]
    for _ in range(int(rng.integers(2, 5))):
        kind = rng.choice(["res", "res2", "dw", "max", "avg", "pad", "silu", "dil", "bnrelu"])
        if kind in ("res", "res2", "dw"):
            layers.append(Res(c, 2 if kind == "res2" else 1, depthwise=kind == "dw"))
        elif kind == "max":
            layers.append(nn.MaxPool2d(3, 2, 1))
        elif kind == "avg":
            layers.append(nn.AvgPool2d(2, 1))
        elif kind == "pad":
            layers += [nn.ConstantPad2d((1, 0, 2, 1), 0.5), nn.Conv2d(c, c, (3, 2), (2, 1))]
        elif kind == "bnrelu":  # torchvision's pattern: the norm, then an in-place ReLU
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        elif kind == "dil":
            layers.append(nn.Conv2d(c, c, 3, 1, padding=2, dilation=2))
        else:
            layers += [nn.SiLU(), nn.Dropout(0.3)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 4)]
    m = nn.Sequential(*layers)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
    return m.eval()


@pytest.mark.parametrize("seed", range(10))
def test_random_cnns_match_reinference_at_every_position(seed):
    rng = np.random.default_rng(100 + seed)
    H, W = int(rng.integers(13, 31)), int(rng.integers(13, 31))
    patch = (int(rng.integers(2, 8)), int(rng.integers(2, 8)))
    stride = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(seed))
    r = check_exact(random_cnn(seed), x, patch, stride, baseline=float(rng.normal()))
    assert r.stats["traced"] and 0 < r.stats["macs_done"] <= r.stats["macs_full"]


def test_patch_larger_than_image_and_tensor_baseline():
    m = random_cnn(3)
    x = torch.randn(1, 3, 9, 11)
    check_exact(m, x, (12, 4), (5, 3), baseline=torch.linspace(-1, 1, 11).expand(1, 3, 9, 11))


class Gate(nn.Module):
    """Squeeze-and-excitation (a global pool feeding a product) and a concatenation: no window
    rule, so the executor falls back there."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.se = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        y = F.relu(self.conv(x))
        y = y * torch.sigmoid(self.se(F.adaptive_avg_pool2d(y, 1)))
        y = torch.cat([y, y + 1], 1)
        return self.head(y.mean((2, 3)))


def test_unsupported_nodes_fall_back_and_say_where():
    torch.manual_seed(0)
    r = check_exact(Gate(), torch.randn(1, 3, 12, 12), 4, 3)
    assert r.stats["fallbacks"], r.stats
    assert "adaptive_avg_pool2d" in next(iter(r.stats["fallbacks"]))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            y = -y
        return y.flatten(1)


def test_untraceable_models_run_whole_and_stay_exact():
    torch.manual_seed(1)
    r = check_exact(Branchy(), torch.randn(1, 3, 10, 10), 3, 2)
    assert not r.stats["traced"] and "TraceError" in r.stats["why_untraced"]


def test_spatial_outputs_come_back_whole():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)).eval()
    x = torch.randn(1, 3, 10, 10)
    occ = Occluder(m, x, (3, 3), (2, 2), 0.0)
    out = occ.scores(np.array([[0, 0], [4, 4]]), 2)
    with torch.no_grad():
        ref = torch.cat([m(occluded(x, 0, 0, (3, 3), (2, 2))), m(occluded(x, 4, 4, (3, 3), (2, 2)))])
    torch.testing.assert_close(out, ref.reshape(2, -1))


# -- the whole-tensor tail through onnxruntime -----------------------------------------------


@pytest.fixture
def fresh_tails(monkeypatch):
    """No onnxruntime sessions kept from other tests."""
    from smolplug.explain import tail

    monkeypatch.setattr(tail, "_SESSIONS", type(tail._SESSIONS)())
    return tail


def tail_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        Res(8),
        Res(8, 2, depthwise=True),
        Res(8),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    ).eval()


@pytest.mark.parametrize("whole_at", [1.0, 0.5])
def test_tail_runs_through_onnxruntime_and_stays_exact(fresh_tails, whole_at):
    pytest.importorskip("onnxruntime")
    m = tail_cnn()
    with torch.no_grad():  # batch norm statistics that are not the identity
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    x = torch.randn(1, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    r = check_exact(m, x, 6, 3, baseline=0.3, tail="onnx", whole_at=whole_at)
    t = r.stats["tail"]
    assert t["mode"] == "onnx" and sum(t["onnx_batches"].values()) == r.stats["batches"], t
    assert not t["torch_batches"] and not t["why_torch"]
    assert 0 < r.stats["macs_done"] <= r.stats["macs_full"]
    again = occlusion(m, x, 6, 3, 0.3, tail="torch", batch_size=7)
    np.testing.assert_allclose(r.heatmap, again.heatmap, atol=1e-4)
    assert not again.stats["tail"]["onnx_batches"]
    # whole layers from the frontier on: the same work at whole_at 1, more below it
    if whole_at == 1.0:
        assert again.stats["macs_done"] == r.stats["macs_done"]
    else:
        assert again.stats["macs_done"] < r.stats["macs_done"]
    for v in m.modules():  # exporting left the model's modules in eval mode
        assert not v.training


def test_tail_falls_back_to_torch_and_says_why(fresh_tails, monkeypatch):
    m, x = tail_cnn(1), torch.randn(1, 3, 20, 20)

    def fail(*a, **k):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(torch.onnx, "export", fail)
    r = check_exact(m, x, 5, 4, tail="onnx")
    t = r.stats["tail"]
    assert not t["onnx_batches"] and t["torch_batches"], t
    assert all("onnx export failed: RuntimeError: no exporter here" in w for w in t["why_torch"].values())
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # not installed
    fresh_tails._SESSIONS.clear()
    r = check_exact(m, x, 5, 4, tail="auto")
    assert {*r.stats["tail"]["why_torch"].values()} == {"onnxruntime is not installed"}
    with pytest.raises(ValueError, match="tail must be"):
        occlusion(m, x, 5, 4, tail="tensorrt")


def test_auto_tail_keeps_onnxruntime_only_where_it_beat_torch(fresh_tails, monkeypatch):
    pytest.importorskip("onnxruntime")
    import time

    m, x = tail_cnn(2), torch.randn(1, 3, 24, 24)
    r = check_exact(m, x, 6, 3, tail="auto", whole_at=0.5)
    t = r.stats["tail"]
    # the first batch at each frontier runs both ways (torch's answer kept), then the faster
    assert sum(t["torch_batches"].values()) >= len(t["onnx_batches"]) + len(t["why_torch"]) >= 1, t
    assert set(t["why_torch"].values()) <= {w for w in t["why_torch"].values() if "slower" in w}
    fresh_tails._SESSIONS.clear()
    run = fresh_tails.Tail.run
    monkeypatch.setattr(fresh_tails.Tail, "run", lambda self, a: (time.sleep(0.05), run(self, a))[1])
    r = check_exact(m, x, 6, 3, tail="auto", whole_at=0.5)
    t = r.stats["tail"]
    assert not t["onnx_batches"] and t["why_torch"], t
    assert all(w.startswith("onnxruntime slower") for w in t["why_torch"].values())


def test_tail_after_fallbacks_and_spatial_outputs(fresh_tails):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    r = check_exact(Gate(), torch.randn(1, 3, 12, 12), 4, 3, tail="onnx")
    assert r.stats["fallbacks"] and r.stats["tail"]["onnx_batches"], r.stats
    m = nn.Sequential(nn.Conv2d(3, 2, 3, 2, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1)).eval()
    x = torch.randn(1, 3, 10, 10)
    occ = Occluder(m, x, (5, 5), (2, 2), 0.0, tail="onnx", whole_at=0.3)
    out = occ.scores(np.array([[0, 0], [2, 1], [3, 3]]), 3)
    with torch.no_grad():
        ref = torch.cat([m(occluded(x, i, j, (5, 5), (2, 2))) for i, j in ((0, 0), (2, 1), (3, 3))])
    torch.testing.assert_close(out, ref.reshape(3, -1), atol=1e-5, rtol=1e-4)
    assert occ.engine.counters.tail_onnx, occ.engine.counters


# -- against Captum -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_attribution_matches_captum(seed):
    captum = pytest.importorskip("captum.attr")
    m = random_cnn(seed)
    x = torch.randn(1, 3, 21, 18, generator=torch.Generator().manual_seed(seed))
    for baseline, target in ((0.0, 1), (0.25, None)):
        r = occlusion(m, x, 5, 3, baseline, target)
        ref = captum.Occlusion(m).attribute(x, (3, 5, 5), (3, 3, 3), baselines=baseline, target=r.target)
        assert r.attribution.shape == ref.shape
        assert (r.attribution - ref).abs().max() < 1e-4


# -- approximate ------------------------------------------------------------------------------


def test_tau_and_drill_down_do_less_work_and_stay_close():
    from smolplug.explain.quality import spearman

    torch.manual_seed(7)
    convs = [m for _ in range(4) for m in (nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())]
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), *convs, nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    x = torch.randn(1, 3, 40, 40)
    exact = occlusion(m, x, 6, 2)
    cut = occlusion(m, x, 6, 2, tau=0.25)
    assert cut.stats["macs_done"] < exact.stats["macs_done"]
    assert spearman(cut.heatmap, exact.heatmap) > 0.5
    dd = occlusion(m, x, 6, 2, drill_down=0.25)
    n = dd.heatmap.size
    assert n * 0.25 < dd.stats["positions"] < n * 0.5 and not dd.computed.all()
    np.testing.assert_allclose(dd.heatmap[dd.computed], exact.heatmap[dd.computed], atol=1e-4)
    assert spearman(dd.heatmap, exact.heatmap) > 0.5


def test_quality_measures():
    from smolplug.explain.quality import choose_tau, spearman, ssim

    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20)).cumsum(0).cumsum(1)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, a + rng.normal(size=a.shape) * a.std()) < 0.9
    assert spearman(a, 2 * a + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    rows = [
        {"tau": 1.0, "median_ssim": 1.0, "min_ssim": 1.0, "seconds": 10.0},
        {"tau": 0.8, "median_ssim": 0.93, "min_ssim": 0.85, "seconds": 6.0},  # not monotone in tau
        {"tau": 0.6, "median_ssim": 0.97, "min_ssim": 0.92, "seconds": 4.0},
        {"tau": 0.4, "median_ssim": 0.80, "min_ssim": 0.60, "seconds": 2.0},
    ]
    assert choose_tau(rows, 0.95, 0.90)["tau"] == 0.6
    assert choose_tau(rows, 0.99)["tau"] == 1.0


# -- the real model ---------------------------------------------------------------------------


def test_efficientnet_lite0_positions_match_reinference():
    from smolplug.plan.zoo import try_efficientnet_lite0

    m = try_efficientnet_lite0()
    if m is None:
        pytest.skip("efficientnet-lite0 packages not installed")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    occ = Occluder(m, x, (16, 16), (4, 4), 0.0)
    pos = np.array([[0, 0], [52, 52], [0, 52], [26, 13], [51, 1]])
    out = occ.scores(pos, 5)
    with torch.no_grad():
        ref = m(torch.cat([occluded(x, i, j, (16, 16), (4, 4)) for i, j in pos]))
    assert ((out - ref).abs() / ref.abs().clamp(min=1)).max() < 1e-4
    assert isinstance(occ.engine, Incremental) and occ.engine.traced
    assert set(occ.engine.counters.fallbacks) <= {"_avg_pooling", "view", "size"}
    if importlib.util.find_spec("onnxruntime") is None:
        return
    for whole_at in (1.0, 0.5):  # the 14x14 stage on through onnxruntime
        occ = Occluder(m, x, (16, 16), (4, 4), 0.0, tail="onnx", whole_at=whole_at)
        got = occ.scores(pos, 5)
        assert ((got - ref).abs() / ref.abs().clamp(min=1)).max() < 1e-4
        assert occ.engine.counters.tail_onnx and not occ.engine.counters.tail_torch, occ.engine.counters


# -- command line -----------------------------------------------------------------------------


def tiny_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, 2, 1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, 1, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()


def test_cli_writes_a_heatmap(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from smolplug.cli import main
    from smolplug.jpeg.samples import synthetic_image

    img = tmp_path / "a.jpg"
    synthetic_image(80, 60, 1).save(img, quality=90)
    png = tmp_path / "heat.png"
    args = [
        "explain",
        str(img),
        "--model",
        "tests.test_explain:tiny_classifier",
        "--size",
        "32",
        "--patch",
        "8",
    ]
    assert main([*args, "--stride", "4", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "exact: 49 positions on a 7x7 grid" in out and png.stat().st_size > 1000
    if importlib.util.find_spec("onnxruntime") is not None:
        assert main([*args, "--tail", "onnx", "--whole-at", "0.1"]) == 0
        assert "onnxruntime ran the tail of 2 of 2 batches" in capsys.readouterr().out
    assert (
        main(["explain", str(tmp_path / "missing.jpg"), "--model", "tests.test_explain:tiny_classifier"]) == 2
    )
