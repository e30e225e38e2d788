"""Inference on a dataset of frames: a callable class for ``Dataset.map_batches`` run by an
actor pool, each actor holding one smolplug executor.

.. code-block:: python

    from ray.data import ActorPoolStrategy
    from smolplug.ray import Predict, read_frames

    ds = read_frames("videos/", FrameSelection.every(30), FrameSpec.imagenet())
    out = ds.map_batches(
        Predict, fn_constructor_kwargs={"model": "zoo:efficientnet_lite0", "threads": 1},
        batch_size=64, batch_format="numpy", compute=ActorPoolStrategy(size=4), num_cpus=1,
    )

Rows that were not delivered (status other than OK/WARNING) are not run through the model:
their ``output`` row is NaN, and their status and message stay, so the frame accounting of
the read survives inference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OK_STATUSES = ("OK", "WARNING")


def _model(model: Any) -> Any:
    """A model, a zero-argument factory (a class or function), or ``[NAME=]module:attr``."""
    import inspect

    if isinstance(model, str):
        from ..plan.calibrate import load_model

        if model.startswith("zoo:"):
            model = "smolplug.plan.zoo:" + model[4:]
        return load_model(model)[1]
    if inspect.isclass(model) or inspect.isfunction(model):
        return model()
    return model


class Predict:
    """``map_batches`` callable: runs the ``column`` tensor of the delivered rows through an
    executor made by :func:`smolplug.make_executor` once per actor, adds ``output``.

    :param model: a model object, a zero-argument factory, or ``"module:attr"`` /
        ``"zoo:name"`` (built in the actor: nothing large is pickled).
    :param column: ``"frame"`` (:func:`~smolplug.ray.read_frames`) or ``"image"``
        (:func:`~smolplug.ray.read_images`).
    :param device, backend, threads: as :func:`smolplug.make_executor` (give ``threads`` the
        actor's ``num_cpus``).
    :param keep_input: keep the input tensor column in the output rows (dropped by default:
        it is the largest column, and inference usually ends its use).
    :param reduce: ``"argmax"`` (class per row, int64; -1 when not delivered) or None (the raw
        output vector, float32).
    """

    def __init__(
        self,
        model: Any,
        *,
        column: str = "frame",
        device: str = "cpu",
        backend: str = "auto",
        threads: int | None = 1,
        keep_input: bool = False,
        reduce: str | None = None,
    ):
        from ..api import make_executor

        self.column = column
        self.keep_input = keep_input
        self.reduce = reduce
        self.executor = make_executor(_model(model), device, backend=backend, threads=threads)
        self.frames = 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(
            np.stack(list(batch[self.column])) if batch[self.column].dtype == object else batch[self.column]
        )
        ok = np.isin(batch["status"].astype(str), OK_STATUSES)
        out = {k: v for k, v in batch.items() if k != self.column or self.keep_input}
        y = np.asarray(self.executor.run(x[ok])) if ok.any() else None
        n = len(ok)
        if self.reduce == "argmax":
            cls = np.full(n, -1, np.int64)
            if y is not None:
                cls[ok] = y.reshape(len(y), -1).argmax(axis=1)
            out["output"] = cls
        else:
            width = int(np.prod(y.shape[1:])) if y is not None else 1
            full = np.full((n, width), np.nan, np.float32)
            if y is not None:
                full[ok] = y.reshape(len(y), -1)
            out["output"] = full
        self.frames += int(ok.sum())
        return out
