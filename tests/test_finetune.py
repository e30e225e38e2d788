"""Low-resolution fine-tuning utility."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from smolplug.plan.finetune import accuracy, degrade, finetune_lowres  # noqa: E402


def _task(n=96, size=32, seed=0):
    """Images whose class is which half (left/right) holds a bright blob."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        cx = rng.integers(2, size // 2 - 4) + (size // 2 if y[i] else 0)
        cy = rng.integers(2, size - 6)
        x[i, :, cy : cy + 4, cx : cx + 4] += 2.0
    return x, y


def _model():
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(32, 2)
    )


def test_degrade_keeps_or_reduces_the_size():
    x = torch.rand(2, 3, 40, 60)
    assert degrade(x, 10, "down-up").shape == x.shape
    assert degrade(x, 10, "direct").shape == (2, 3, 10, 15)
    assert not torch.allclose(degrade(x, 10), x)  # detail is gone
    with pytest.raises(ValueError, match="mode"):
        degrade(x, 10, "sideways")


def test_finetuning_learns_on_degraded_inputs_and_leaves_the_original_alone():
    x, y = _task()
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    res = finetune_lowres(model, x, y, 8, epochs=8, lr=1e-2, batch_size=16)
    assert res.losses[-1] < 0.8 * res.losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    xv, yv = _task(seed=1)
    assert accuracy(res.model, xv, yv, 8) > accuracy(model, xv, yv, 8)


def test_distillation_from_teacher_logits_and_direct_mode():
    x, _ = _task()
    teacher = _model()
    with torch.inference_mode():
        logits = teacher(torch.from_numpy(x)).numpy()
    res = finetune_lowres(teacher, x, logits, 16, mode="direct", epochs=2, lr=1e-3)
    assert len(res.losses) == 2 and np.isfinite(res.losses).all()
    assert accuracy(teacher, x, logits) == 1.0  # the teacher agrees with itself at full size
    with pytest.raises(ValueError, match="inputs for"):
        accuracy(teacher, x[:3], logits)
    with pytest.raises(ValueError, match="inputs for"):
        finetune_lowres(teacher, x[:0], logits[:0], 8)
