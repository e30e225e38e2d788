"""Timing an inference call (a host's own, or a smolplug executor's), for the cost model's DNN
stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..plan.calibrate import dnn_input


def call_rate(
    fn: Callable[[np.ndarray], Any],
    batch: tuple[int, ...] | np.ndarray,
    threads: int | None = None,
    seconds: float = 0.15,
    min_repeats: int = 3,
) -> float:
    """Items/s of ``fn(batch)`` — ``batch`` real inputs, or a shape for a synthetic batch
    (:func:`smolplug.plan.calibrate.dnn_input`; real frames are better: a CNN's speed on a CPU depends
    on the values) — the fastest call after one warm-up, calls repeated for at least ``seconds``
    and ``min_repeats`` times (a shared machine's hiccups only make single calls slower).
    ``threads``: torch's thread count during the timing (None: leave it)."""
    import torch

    x = dnn_input(batch) if isinstance(batch, tuple) else batch
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        fn(x)
        best, n, start = float("inf"), 0, time.perf_counter()
        while n < min_repeats or time.perf_counter() - start < seconds:
            t = time.perf_counter()
            fn(x)
            best = min(best, time.perf_counter() - t)
            n += 1
    finally:
        torch.set_num_threads(before)
    return len(x) / max(best, 1e-9)


def predict_rate(
    predict: Callable[[Any, np.ndarray], Any],
    model: Any,
    batch: tuple[int, ...] | np.ndarray,
    threads: int = 1,
    seconds: float = 0.15,
) -> float:
    """:func:`call_rate` of a host's ``predict(model, batch)`` with ``threads`` torch threads."""
    return call_rate(lambda x: predict(model, x), batch, threads, seconds)
