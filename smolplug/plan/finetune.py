"""Low-resolution fine-tuning: keep a model accurate when a plan feeds it fewer pixels.

A plan that decodes at a lower resolution gives the model blurrier inputs than it was trained
on. :func:`finetune_lowres` fine-tunes a copy of a trained torch model on its training inputs
degraded the way the plan degrades them:

* ``"down-up"``: downsampled (antialiased bilinear) to ``low`` px and upsampled back to the
  model's input size — the model keeps its input size, only the detail is gone;
* ``"direct"``: downsampled to ``low`` px and fed at that size (models with global pooling),
  which also cuts the DNN's cost.

Targets are class labels (cross-entropy; one output column means binary, BCE) or a teacher's
logits (distillation: KL divergence to its softmax), so unlabelled data works with the
full-resolution model as the teacher.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODES = ("down-up", "direct")


def degrade(x: Any, low: int, mode: str = "down-up") -> Any:
    """``x`` (N, C, H, W torch tensor) as a plan at ``low`` px would deliver it."""
    import torch.nn.functional as F

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    h, w = x.shape[-2:]
    lh, lw = (low, max(1, round(low * w / h))) if h <= w else (max(1, round(low * h / w)), low)
    small = F.interpolate(x, size=(lh, lw), mode="bilinear", antialias=True, align_corners=False)
    if mode == "direct":
        return small
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


@dataclass
class FinetuneResult:
    model: Any
    losses: list[float] = field(default_factory=list)  #: mean training loss per epoch


def _loss(out: Any, target: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if target.dtype.is_floating_point and target.ndim == 2:  # teacher logits: distillation
        return F.kl_div(F.log_softmax(out, dim=1), F.softmax(target, dim=1), reduction="batchmean")
    if out.ndim == 1 or out.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(out.reshape(-1), target.to(torch.float32).reshape(-1))
    return F.cross_entropy(out, target.to(torch.int64))


def finetune_lowres(
    model: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    low: int,
    *,
    mode: str = "down-up",
    epochs: int = 5,
    lr: float = 1e-4,
    batch_size: int = 32,
    freeze_batchnorm: bool = True,
    seed: int = 0,
) -> FinetuneResult:
    """Fine-tune a copy of ``model`` on ``inputs`` (N, C, H, W float32, preprocessed at the
    model's input size) degraded to ``low`` px; the original is left untouched."""
    import torch

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(f"{len(inputs)} inputs for {len(targets)} targets")
    g = torch.Generator().manual_seed(seed)
    student = copy.deepcopy(model)
    student.train()
    if freeze_batchnorm:  # small fine-tuning sets: keep the trained statistics
        for m in student.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    x_all = torch.from_numpy(np.ascontiguousarray(inputs, np.float32))
    y_all = torch.from_numpy(np.asarray(targets))
    opt = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=lr)
    res = FinetuneResult(student)
    for _ in range(epochs):
        perm = torch.randperm(len(x_all), generator=g)
        total, n = 0.0, 0
        for s in range(0, len(perm), batch_size):
            b = perm[s : s + batch_size]
            with torch.no_grad():
                xb = degrade(x_all[b], low, mode)
            opt.zero_grad()
            loss = _loss(student(xb), y_all[b])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            n += len(b)
        res.losses.append(total / n)
    student.eval()
    return res


def accuracy(
    model: Any, inputs: np.ndarray, targets: np.ndarray, low: int | None = None, mode: str = "down-up"
) -> float:
    """Top-1 agreement of ``model`` with ``targets`` (labels, or a teacher's logits) on
    ``inputs``, degraded to ``low`` px first unless ``low`` is None."""
    import torch

    if len(inputs) == 0 or len(inputs) != len(targets):
        raise ValueError(f"{len(inputs)} inputs for {len(targets)} targets")
    t = np.asarray(targets)
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    preds = []
    with torch.inference_mode():
        for s in range(0, len(inputs), 64):
            x = torch.from_numpy(np.ascontiguousarray(inputs[s : s + 64], np.float32))
            if low is not None:
                x = degrade(x, low, mode)
            out = model(x)
            preds.append(
                (out.reshape(-1) > 0).long().numpy()
                if out.ndim == 1 or out.shape[-1] == 1
                else out.argmax(1).numpy()
            )
    return float((np.concatenate(preds) == labels).mean())
