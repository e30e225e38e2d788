"""Static-camera incremental inference: exact at threshold 0 (changed boxes, unchanged frames,
reference refreshes), approximate above it, the change detector."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from smolplug.explain.static import StaticCamera, changed_boxes  # noqa: E402


def proxy() -> nn.Module:
    """The reference engines' proxy shape: conv, ReLU, max-pool twice, then dense layers."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 16),
        nn.ReLU(),
        nn.Linear(16, 2),
    ).eval()


def street(n: int, seed: int = 0) -> torch.Tensor:
    """A fixed background with a small bright square walking across it; frames 0 and 5 are the
    background alone, frame 9 changes everywhere (a cut)."""
    g = torch.Generator().manual_seed(seed)
    bg = torch.rand(3, 32, 32, generator=g)
    frames = bg.repeat(n, 1, 1, 1)
    for t in range(n):
        if t in (0, 5):
            continue
        y, x = (2 * t) % 20, (3 * t) % 20
        frames[t, :, y : y + 5, x : x + 5] += 1.0
    frames[9] = torch.rand(3, 32, 32, generator=g)
    return frames


def test_changed_boxes_cover_every_changed_pixel():
    ref = torch.zeros(1, 3, 20, 18)
    f = torch.zeros(3, 3, 20, 18)
    f[1, 0, 5, 17] = 1.0
    f[1, 2, 13, 2] = 0.5
    f[2, 1, 19, 0] = 0.05
    b = changed_boxes(f, ref, 0.0, 4)
    assert b[0].tolist() == [0, 0, 0, 0]
    assert b[1].tolist() == [4, 16, 0, 18]
    assert b[2].tolist() == [16, 20, 0, 4]
    assert changed_boxes(f, ref, 0.1, 4)[2].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("batch", [1, 4, 32])
def test_threshold_zero_is_exact(batch):
    m, x = proxy(), street(14)
    cam = StaticCamera(m, threshold=0.0, block=4, refresh=0.5, batch_size=batch)
    out = torch.cat([cam.run(x[:6]), cam.run(x[6:])])  # the reference carries over between calls
    with torch.no_grad():
        ref = m(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    s = cam.stats
    assert s.frames == 14 == 1 + s.whole + s.unchanged + s.incremental
    assert s.unchanged == 1 and s.whole >= 1  # frame 5 is the first reference again; the cut
    if batch == 1:  # the cut and the frame after it run whole and become references
        assert s.whole == 2 and s.references == 3 and s.incremental == 10
    assert 0 < s.macs_done < s.macs_full


def test_unchanged_frames_reuse_the_reference_and_small_noise_is_ignored_above_threshold():
    m = proxy()
    bg = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    x = bg.repeat(5, 1, 1, 1)
    noise = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(2)).clamp(-1, 1)
    x[2, :, 4:10, 4:10] += 0.01 * noise
    exact = StaticCamera(m, threshold=0.0)
    out = exact.run(x)
    assert exact.stats.unchanged == 3 and exact.stats.incremental == 1
    approx = StaticCamera(m, threshold=0.05)
    out2 = approx.run(x)
    assert approx.stats.unchanged == 4
    with torch.no_grad():
        torch.testing.assert_close(out, m(x), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out2[2], m(bg[None])[0])


def test_static_camera_is_a_plan_option_costed_like_the_others():
    from smolplug.explain.static import static_camera_plan
    from smolplug.plan.costmodel import Plan, PlanError, Stage, select_plan

    m, x = proxy(), street(14)[:9]
    base = Plan(
        "cnn8@32", 0.9, (Stage("decode", {1: 5000.0, 2: 9000.0}), Stage("dnn", {1: 800.0, 2: 1500.0}))
    )
    opt = static_camera_plan(base, m, x, block=4)
    ratio = opt.params["static_camera"]["speedup"]
    assert opt.name == "cnn8@32+static" and opt.accuracy == 0.9 and ratio > 0
    assert opt.stages[0] == base.stages[0]
    assert opt.stages[1].rates == pytest.approx({1: 800.0 * ratio, 2: 1500.0 * ratio})
    choice = select_plan([base, opt], 0.8, cores=2)
    assert choice.plan.name == (opt.name if ratio > 1 else base.name)
    with pytest.raises(PlanError):
        static_camera_plan(base, m, x, threshold=0.1)
