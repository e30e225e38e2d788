"""Static-camera inference: the sparse executor (changed pixels only, exact against whole
inference on random CNNs with several changes per frame), the static camera (exact at
threshold 0, reference carried across calls and batches, approximate above it), the change
detector, and the plan option."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from smolplug.explain.sparse import SparseExecutor, reach  # noqa: E402
from smolplug.explain.static import StaticCamera, changed_blocks, changed_boxes  # noqa: E402
from tests.test_explain import random_cnn  # noqa: E402


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


class Mixed(nn.Module):
    """Grouped (not depthwise) and depthwise-multiplier convolutions, a per-channel gate with a
    constant, explicit padding and a spatial output: the rules off the common path."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.g = nn.Conv2d(8, 8, 3, 2, padding=1, groups=2)
        self.d = nn.Conv2d(8, 16, 5, 1, padding=2, groups=8)
        self.pad = nn.ZeroPad2d((2, 0, 1, 1))
        self.p = nn.AvgPool2d(3, 1)
        self.scale = nn.Parameter(torch.randn(1, 16, 1, 1))

    def forward(self, x):
        y = torch.relu(self.g(self.a(x)))
        y = self.d(y) * self.scale
        return self.p(self.pad(y))


def changed_frames(x0: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` frames of ``x0`` (1, C, H, W), each with up to three changed boxes far apart or
    overlapping; frame 1 is unchanged, the last changes everywhere."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    H, W = x0.shape[2:]
    frames = x0.repeat(n, 1, 1, 1)
    for t in range(n):
        if t == 1:
            continue
        for _ in range(int(rng.integers(1, 4))):
            h, w = int(rng.integers(1, max(2, H // 3))), int(rng.integers(1, max(2, W // 3)))
            y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            frames[t, :, y : y + h, x : x + w] += torch.randn(x0.shape[1], h, w, generator=g)
    frames[-1] = torch.randn(x0.shape[1:], generator=g)
    return frames


def exact_mask(frames: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (frames != ref).any(1, keepdim=True)


@pytest.mark.parametrize("seed", range(10))
def test_sparse_executor_matches_the_model_with_several_changes_per_frame(seed):
    m = random_cnn(seed)
    rng = np.random.default_rng(200 + seed)
    H, W = int(rng.integers(13, 33)), int(rng.integers(13, 33))
    x0 = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(seed))
    eng = SparseExecutor(m, x0, dense_share=0.9)
    for batch in range(2):  # the second batch runs against the adopted last frame of the first
        ref = eng.base.clone()
        frames = changed_frames(ref, 7, seed * 10 + batch)
        frames[-1] = ref[0] if batch else frames[-1]  # an unchanged last frame is adopted too
        out = eng.run(frames, exact_mask(frames, ref), adopt=-1)
        with torch.no_grad():
            want = m(frames)
        torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(eng.base, frames[-1:])
        with torch.no_grad():
            torch.testing.assert_close(eng.output, m(frames[-1:]), atol=1e-4, rtol=1e-4)
    assert 0 < eng.pixels[0] < eng.pixels[1]  # some layers ran on changed pixels only
    assert eng.counters.macs_done < eng.counters.macs_full


@pytest.mark.parametrize("dense_share", [0.0, 0.5, 1.0])
def test_grouped_depthwise_gates_padding_and_spatial_outputs(dense_share):
    torch.manual_seed(3)
    m = Mixed().eval()
    x0 = torch.randn(1, 3, 21, 17)
    frames = changed_frames(x0, 6, 5)
    eng = SparseExecutor(m, x0, dense_share=dense_share)
    out = eng.run(frames, exact_mask(frames, x0))
    with torch.no_grad():
        torch.testing.assert_close(out, m(frames), atol=1e-4, rtol=1e-4)
    if dense_share == 0.0:
        assert eng.pixels[0] == 0  # everything ran whole
    if dense_share == 1.0:
        assert 0 < eng.pixels[0] < eng.pixels[1]


class AsksShape(nn.Module):
    """Asks its input's batch size and shape first (as EfficientNet's forward does), then
    flattens by it: a shape query must not turn the changed pixels into whole tensors."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 4, 3, 2)

    def forward(self, x):
        bs, c = x.size(0), x.shape[1]
        y = self.b(torch.relu(self.a(x))) * (x.dim() - 3) * c / 3
        return y.reshape(bs, -1)


def test_shape_queries_keep_the_changes_sparse():
    torch.manual_seed(4)
    m = AsksShape().eval()
    x0 = torch.randn(1, 3, 24, 24)
    frames = x0.repeat(3, 1, 1, 1)
    frames[1, :, 2:5, 3:6] += 1.0
    frames[2, :, 18:20, 10:22] -= 1.0
    eng = SparseExecutor(m, x0, dense_share=0.5)
    out = eng.run(frames, exact_mask(frames, x0))
    with torch.no_grad():
        torch.testing.assert_close(out, m(frames), atol=1e-5, rtol=1e-5)
    assert 0 < eng.pixels[0] < eng.pixels[1] / 4  # both convolutions ran on changed pixels only


def test_reach_is_the_set_of_outputs_reading_a_changed_input():
    from smolplug.explain.nodes import Sliding

    g = torch.Generator().manual_seed(0)
    for k, s, p in [(3, 1, 1), (3, 2, 0), (5, 2, 2), (2, 2, 0), (1, 1, 0)]:
        mask = torch.rand(2, 1, 15, 12, generator=g) > 0.93
        sl = Sliding("conv", (k, k), (s, s), (p, p), 0.0, None, 1)
        Ho, Wo = (15 + 2 * p - k) // s + 1, (12 + 2 * p - k) // s + 1
        got = reach(mask, sl, Ho, Wo)
        # brute force: an output reads a changed input when a conv of ones sees one
        ones = torch.ones(1, 1, k, k)
        want = torch.nn.functional.conv2d(mask.float(), ones, stride=s, padding=p) > 0
        assert torch.equal(got, want)


def street(n: int, seed: int = 0) -> torch.Tensor:
    """A fixed background with two small bright squares walking across it; frames 0 and 5 are
    the background alone, frame 9 changes everywhere (a cut)."""
    g = torch.Generator().manual_seed(seed)
    bg = torch.rand(3, 32, 32, generator=g)
    frames = bg.repeat(n, 1, 1, 1)
    for t in range(n):
        if t in (0, 5):
            continue
        y, x = (2 * t) % 20, (3 * t) % 20
        frames[t, :, y : y + 5, x : x + 5] += 1.0
        frames[t, :, 26:30, (5 * t) % 28 : (5 * t) % 28 + 4] -= 0.5
    frames[9] = torch.rand(3, 32, 32, generator=g)
    return frames


def test_changed_blocks_and_boxes_cover_every_changed_pixel():
    ref = torch.zeros(1, 3, 20, 18)
    f = torch.zeros(3, 3, 20, 18)
    f[1, 0, 5, 17] = 1.0
    f[1, 2, 13, 2] = 0.5
    f[2, 1, 19, 0] = 0.05
    m = changed_blocks(f, ref, 0.0, 4)
    assert m.shape == (3, 1, 20, 18) and not m[0].any()
    assert m[1, 0, 4:8, 16:18].all() and m[1, 0, 12:16, 0:4].all() and m[1].sum() == 4 * 2 + 16
    b = changed_boxes(f, ref, 0.0, 4)
    assert b[0].tolist() == [0, 0, 0, 0]
    assert b[1].tolist() == [4, 16, 0, 18]
    assert b[2].tolist() == [16, 20, 0, 4]
    assert changed_boxes(f, ref, 0.1, 4)[2].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("batch", [1, 4, 32])
def test_threshold_zero_is_exact(batch):
    m, x = proxy(), street(14)
    cam = StaticCamera(m, threshold=0.0, block=4, batch_size=batch)
    out = torch.cat([cam.run(x[:6]), cam.run(x[6:])])  # the reference carries over between calls
    with torch.no_grad():
        ref = m(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    s = cam.stats
    assert s.frames == 14 == 1 + s.unchanged + s.incremental
    if batch == 1:  # each frame is the next one's reference: frame 5 differs from frame 4
        assert s.references == 14 and s.unchanged == 0
    assert 0 < s.macs_done < s.macs_full and 0 < s.pixels[0] < s.pixels[1]


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


def test_approximate_frames_are_the_reference_with_the_changed_blocks_replaced():
    """Above the threshold, a frame is run as the reference input with only its changed blocks
    taken from the frame; the reference then holds the pixels last propagated."""
    m, x = proxy(), street(12, seed=4)
    x = x + 0.03 * torch.randn(x.shape, generator=torch.Generator().manual_seed(9))
    cam = StaticCamera(m, threshold=0.1, block=4, batch_size=4)
    out = cam.run(x)
    S, want = x[:1], [m(x[:1])]
    with torch.no_grad():
        for s in range(1, len(x), 4):
            c = x[s : s + 4]
            inp = torch.where(changed_blocks(c, S, 0.1, 4), c, S)
            want.append(m(inp))
            S = inp[-1:]
    torch.testing.assert_close(out, torch.cat(want), atol=1e-5, rtol=1e-4)


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
