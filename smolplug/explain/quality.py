"""How close an approximate heatmap is to the exact one (SSIM, Spearman's rank correlation),
and the measured quality-vs-tau table the approximate mode's ``tau`` is chosen from. Quality is
not monotone in tau (a cut window can cancel or add error layer by layer), so the table is
measured on sample images and the fastest setting meeting the target is taken."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def ssim(a: np.ndarray, ref: np.ndarray, win: int = 7) -> float:
    """Mean structural similarity of ``a`` to ``ref`` (2-D), Wang et al. with a ``win`` x ``win``
    uniform window and sample covariances (scikit-image's defaults), over the windows that fit;
    the data range is the reference's."""
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    win = min(win, *a.shape)
    L = float(ref.max() - ref.min()) or 1.0
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    view = np.lib.stride_tricks.sliding_window_view
    n = win * win
    norm = n / (n - 1) if n > 1 else 1.0

    def mean(v: np.ndarray) -> np.ndarray:
        return view(v, (win, win)).mean(axis=(-1, -2))

    ma, mr = mean(a), mean(ref)
    va = (mean(a * a) - ma * ma) * norm
    vr = (mean(ref * ref) - mr * mr) * norm
    cov = (mean(a * ref) - ma * mr) * norm
    s = ((2 * ma * mr + c1) * (2 * cov + c2)) / ((ma * ma + mr * mr + c1) * (va + vr + c2))
    return float(s.mean())


def _ranks(v: np.ndarray) -> np.ndarray:
    order = v.argsort(kind="mergesort")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=r) / counts)[inv]  # ties share their mean rank


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two heatmaps (ties ranked by their mean rank)."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    d = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / d) if d else 1.0


def tau_table(
    model: Any,
    images: Sequence[Any],
    taus: Sequence[float] = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4),
    *,
    drill_down: float | None = None,
    exact: Sequence[np.ndarray] | None = None,
    **kwargs: Any,
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Measured quality and time of the approximate mode per tau on ``images``: rows of tau,
    median/min SSIM and Spearman against the exact heatmaps, seconds (all images), multiply-adds
    saved; and the exact heatmaps (computed unless given). ``kwargs`` go to
    :func:`~smolplug.explain.occlusion` (patch, stride, baseline, target, ...)."""
    from .occlusion import occlusion

    rows = []
    if exact is None:
        t0 = time.perf_counter()
        results = [occlusion(model, im, **kwargs) for im in images]
        exact = [r.heatmap for r in results]
        saved = float(np.mean([r.stats["flops_saved"] for r in results]))
        rows.append(_row(1.0, None, exact, exact, time.perf_counter() - t0, saved))
    for tau in taus:
        t0 = time.perf_counter()
        results = [occlusion(model, im, tau=tau, drill_down=drill_down, **kwargs) for im in images]
        saved = float(np.mean([r.stats["flops_saved"] for r in results]))
        rows.append(
            _row(tau, drill_down, [r.heatmap for r in results], exact, time.perf_counter() - t0, saved)
        )
    return rows, list(exact)


def _row(tau, drill_down, heat, exact, seconds, saved) -> dict[str, Any]:
    s = [ssim(h, e) for h, e in zip(heat, exact, strict=True)]
    r = [spearman(h, e) for h, e in zip(heat, exact, strict=True)]
    return {
        "tau": tau,
        "drill_down": drill_down,
        "median_ssim": float(np.median(s)),
        "min_ssim": float(np.min(s)),
        "median_spearman": float(np.median(r)),
        "min_spearman": float(np.min(r)),
        "seconds": seconds,
        "flops_saved": saved,
    }


def choose_tau(
    rows: Sequence[dict[str, Any]], median_ssim: float, min_ssim: float | None = None
) -> dict[str, Any]:
    """The fastest row whose measured median SSIM (and minimum, when given) meets the target;
    the exact setting (tau 1) when none does. Rows are not assumed ordered or monotone."""
    ok = [
        r for r in rows if r["median_ssim"] >= median_ssim and (min_ssim is None or r["min_ssim"] >= min_ssim)
    ]
    if not ok:
        return {"tau": 1.0, "drill_down": None, "median_ssim": 1.0, "min_ssim": 1.0, "seconds": float("nan")}
    return min(ok, key=lambda r: r["seconds"])
