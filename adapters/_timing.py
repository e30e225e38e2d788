"""Timing a host's own inference call, for the cost model's DNN stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def predict_rate(
    predict: Callable[[Any, np.ndarray], Any],
    model: Any,
    shape: tuple[int, ...],
    threads: int = 1,
    repeats: int = 2,
) -> float:
    """Items/s of ``predict(model, batch)`` on a zero batch of ``shape`` with ``threads`` torch
    threads: best of ``repeats`` after one warm-up call (weights do not change the work)."""
    import torch

    x = np.zeros(shape, np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        predict(model, x)
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            predict(model, x)
            best = min(best, time.perf_counter() - t)
    finally:
        torch.set_num_threads(before)
    return shape[0] / max(best, 1e-9)
