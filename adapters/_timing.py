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


def static_camera_rates(
    predict: Callable[[Any, np.ndarray], Any],
    model: Any,
    frames: np.ndarray,
    batch: int = 64,
    threads: int = 1,
    repeats: int = 2,
) -> tuple[float, float]:
    """Frames/s of the host's ``predict(model, frames)`` and of the same model run as an exact
    static camera (:class:`smolplug.explain.static.StaticCamera`, threshold 0, batches of
    ``batch``) on the same frames in order — its trace and first reference included, as each
    call pays them — on ``threads`` torch threads, each the fastest of ``repeats`` runs after a
    warm-up of both. Its speed depends on the frames (how much of each changed), not the
    weights."""
    import torch

    from ..explain.static import StaticCamera

    def static() -> Any:
        return StaticCamera(model, threshold=0.0, batch_size=batch).run(frames)

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        best = [float("inf"), float("inf")]
        for i, fn in enumerate((lambda: predict(model, frames), static)):
            fn()
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t)
    finally:
        torch.set_num_threads(before)
    return len(frames) / max(best[0], 1e-9), len(frames) / max(best[1], 1e-9)


def static_predict(original: Callable[..., Any], chosen: Any) -> Callable[..., Any]:
    """A host's ``predict(model, x, batch=64)`` that runs the models in ``chosen`` (a
    ``weakref.WeakSet``) as an exact static camera over ``x`` (frames in stream order): the
    same outputs (to float rounding), the changed pixels computed only."""

    def predict(model: Any, x: np.ndarray, batch: int = 64) -> Any:
        if model not in chosen or len(x) == 0:
            return original(model, x, batch)
        from ..explain.static import StaticCamera

        cam = StaticCamera(model, threshold=0.0, batch_size=batch)
        out = cam.run(np.ascontiguousarray(x, np.float32))
        return out.reshape(len(x), *cam.engine.output.shape[1:]).numpy()

    predict.__wrapped__ = original  # type: ignore[attr-defined]
    return predict


class StaticExecutor:
    """An executor (``run(batch) -> outputs``) that runs ``model`` as an exact static camera over
    the batches it is given, in stream order (the reference carries from one batch to the next),
    on ``threads`` torch threads."""

    name = "static-camera (torch)"

    def __init__(self, model: Any, threads: int = 1, batch: int = 64):
        from ..explain.static import StaticCamera

        self.camera = StaticCamera(model, threshold=0.0, batch_size=batch)
        self.threads = threads

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            out = self.camera.run(np.ascontiguousarray(x, np.float32))
        finally:
            torch.set_num_threads(before)
        return out.reshape(len(x), *self.camera.engine.output.shape[1:]).numpy()


def static_rate(model: Any, frames: np.ndarray, threads: int, batch: int = 64) -> float:
    """Frames/s of :class:`StaticExecutor` on ``frames`` (consecutive frames of the stream), a
    fresh camera per call: its trace and first reference counted against these frames alone
    (a whole stream pays them once), so the rate is if anything low."""
    return call_rate(lambda x: StaticExecutor(model, threads, batch).run(x), frames, threads)
