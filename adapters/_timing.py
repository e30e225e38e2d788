"""Timing a host's own inference call, for the cost model's DNN stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..calibrate import dnn_input


def predict_rate(
    predict: Callable[[Any, np.ndarray], Any],
    model: Any,
    batch: tuple[int, ...] | np.ndarray,
    threads: int = 1,
    seconds: float = 0.15,
    min_repeats: int = 3,
) -> float:
    """Items/s of ``predict(model, batch)`` — ``batch`` real inputs, or a shape for a synthetic
    batch (:func:`smolplug.calibrate.dnn_input`; real frames are better: speed depends on the
    values) — with ``threads`` torch
    threads: the fastest call after one warm-up, calls repeated for at least ``seconds`` and
    ``min_repeats`` times (a shared machine's hiccups only make single calls slower)."""
    import torch

    x = dnn_input(batch) if isinstance(batch, tuple) else batch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        predict(model, x)
        best, n, start = float("inf"), 0, time.perf_counter()
        while n < min_repeats or time.perf_counter() - start < seconds:
            t = time.perf_counter()
            predict(model, x)
            best = min(best, time.perf_counter() - t)
            n += 1
    finally:
        torch.set_num_threads(before)
    return len(x) / max(best, 1e-9)
