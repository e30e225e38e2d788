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


class StaticExecutor:
    """An executor (``run(batch) -> outputs``) that runs ``model`` as an exact static camera
    (:class:`smolplug.explain.static.StaticCamera`, threshold 0) over the batches it is given,
    in stream order (the reference carries from one batch to the next): the model's outputs to
    float rounding, the changed pixels computed only. ``threads``: torch's thread count while
    it runs (None: leave it)."""

    name = "static-camera (torch)"

    def __init__(self, model: Any, threads: int | None = 1, batch: int = 64):
        from ..explain.static import StaticCamera

        self.camera = StaticCamera(model, threshold=0.0, batch_size=batch)
        self.threads = threads

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            out = self.camera.run(np.ascontiguousarray(x, np.float32))
        finally:
            torch.set_num_threads(before)
        return out.reshape(len(x), *self.camera.engine.output.shape[1:]).numpy()


def static_rate(model: Any, frames: np.ndarray, threads: int, batch: int = 64) -> float:
    """Frames/s of :class:`StaticExecutor` on ``frames`` (consecutive frames of the stream), a
    fresh camera per call: its trace and first reference counted against these frames alone
    (a whole stream pays them once), so the rate is if anything low. Its speed depends on the
    frames (how much of each changed), not the weights."""
    return call_rate(lambda x: StaticExecutor(model, threads, batch).run(x), frames, threads)


def static_predict(original: Callable[..., Any], chosen: Any) -> Callable[..., Any]:
    """A host's ``predict(model, x, batch=64)`` that runs the models in ``chosen`` (a
    ``weakref.WeakSet``) through a :class:`StaticExecutor` over ``x`` (frames in stream order)."""

    def predict(model: Any, x: np.ndarray, batch: int = 64) -> Any:
        if model not in chosen or len(x) == 0:
            return original(model, x, batch)
        return StaticExecutor(model, None, batch).run(x)

    predict.__wrapped__ = original  # type: ignore[attr-defined]
    return predict
