"""Adapter for the BlazeIt-style reference engine (``integration_tests.engines.blazeit``).

Replaces three pieces of the engine:

* ``BlazeIt.load`` — the original decodes every frame with OpenCV at full resolution, then
  resizes, converts and normalises it in separate passes. Here each frame is decoded at the
  lowest resolution covering the proxy's input (a low-res rendition when one exists) and
  converted in one fused native pass into the engine's normalised NCHW float32 batch.
* ``BlazeIt.select_proxy`` — the engine keeps the cheapest candidate proxy by multiply-
  accumulates whose held-out correlation reaches ``min_corr`` (a DNN-only cost model). Here every
  candidate becomes a :class:`~smolplug.costmodel.Plan` — accuracy: its held-out correlation;
  stages: decoding every frame at its input size (measured on the video's first 150 frames
  per core count, as ``smolplug calibrate`` does) and the proxy CNN run by smolplug's executor
  (``smolplug_make_executor``, backend ``auto``: the faster of torch and onnxruntime, timed on
  the engine's own frames per core count) — and ``smolplug_select_plan``
  picks the fastest plan reaching ``min_corr``: a larger input that decodes no slower, or a
  proxy that hides under decoding, is no longer penalised by its multiply-accumulates (ties on
  a shared bottleneck go to the plan doing less work). When no plan reaches the target the
  engine's own fallback (the most correlated proxy) stands.
* ``BlazeIt.score_all`` — "load every frame, then run the proxy" becomes one pipeline (decoding
  in a reader thread, the proxy on smolplug's executor in the caller's), with the cores split as
  the chosen plan's estimate says. onnxruntime ran these small CNNs 2–4.6x faster than eager
  torch and, releasing the GIL for a whole batch, slows the decoding thread less.

Options (``enable(**options)``): ``scale_headroom`` (1.0), ``threads`` (decoding threads; default:
the cost model's split), ``backend`` (executor backend for the proxy: "auto", "torch",
"onnxruntime"), ``select`` (True: replace ``select_proxy``), ``pipeline`` (True: replace
``score_all``).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from ..spec import FrameSpec
from . import Adapter, Patcher
from ._frames import load_frames, reader_options, score_frames
from ._timing import call_rate

TARGET = "integration_tests.engines.blazeit"
BATCH = 64  #: frames per batch in the pipelined proxy pass (and in its cost estimate)


def _cores() -> int:
    return os.cpu_count() or 1


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    engine_cls = module.BlazeIt
    loaded_cls = module.LoadedFrames
    mean = tuple(float(m) for m in module.MEAN)
    std = tuple(float(s) for s in module.STD)

    def spec(size: int) -> FrameSpec:
        return FrameSpec(size, size, mean=mean, std=std, layout="NCHW", dtype="float32")

    def load(self: Any, indices: np.ndarray, size: int = module.SIZE) -> Any:
        got = load_frames(self.video, indices, spec(size), **reader_options(options))
        # a batch of the engine's real frames to time candidate proxies on (their speed on CPU
        # depends on the values: zeros ran 1.6x faster than frames)
        self.__dict__.setdefault("_smolplug_frames", {})[size] = got.data[:BATCH].copy()
        return loaded_cls(
            got.indices,
            [got.data],
            got.frames_decoded,
            got.pixels_decoded,
            got.seconds,
            loader="smolplug",
            details={"reader": got.reader},
        )

    patcher.setattr(engine_cls, "load", load)
    if options.get("select", True):
        patcher.setattr(
            engine_cls, "select_proxy", _select_proxy(module, engine_cls.select_proxy, spec, options)
        )
    if options.get("pipeline", True):

        def score_all(self: Any) -> tuple[np.ndarray, Any, float]:
            """Every frame through decode -> proxy as one pipeline (the proxy's time overlaps
            decoding, so the whole run is reported as loading and the proxy's own as 0)."""
            proxy = self.proxy
            choice = getattr(self, "_smolplug_choice", None)
            est = choice.estimates.get(proxy.name) if choice is not None else None
            split = est.split if est is not None else {}
            cores = _cores()
            dec = options.get("threads") or split.get("decode") or max(1, cores - 1)
            dnn = split.get("dnn") or max(1, cores - dec)
            ex = _executor(self, self.model, dnn, options)  # runs on ``dnn`` threads itself
            got = score_frames(
                self.video,
                np.arange(self.n_frames),
                spec(proxy.size),
                ex.run,
                batch_size=BATCH,
                threads=dec,
                scale_headroom=options.get("scale_headroom", 1.0),
            )
            details = {
                "reader": got.reader,
                "executor": ex.name,
                "pipelined": {"decode_threads": dec, "dnn_threads": dnn, **got.times.as_dict()},
            }
            if est is not None:
                details["predicted_fps"] = est.throughput
                details["measured_fps"] = len(got.indices) / max(got.seconds, 1e-9)
            data = loaded_cls(
                got.indices,
                [],
                got.frames_decoded,
                got.pixels_decoded,
                got.seconds,
                loader="smolplug",
                details=details,
            )
            return got.values, data, 0.0

        patcher.setattr(engine_cls, "score_all", score_all)


def _executor(engine: Any, model: Any, threads: int, options: dict[str, Any]) -> Any:
    """smolplug's CPU executor for one of the engine's proxies, one per (model, threads), kept on
    the engine (onnxruntime sessions and the ``auto`` choice are made once)."""
    from ..api import make_executor

    cache = engine.__dict__.setdefault("_smolplug_executors", {})
    key = (id(model), threads)
    if key not in cache:
        cache[key] = (
            model,
            make_executor(model, "cpu", backend=options.get("backend", "auto"), threads=threads),
        )
    return cache[key][1]


def _select_proxy(module: ModuleType, original: Any, spec: Any, options: dict[str, Any]) -> Any:
    from ..api import select_plan
    from ..calibrate import measure_preprocessing
    from ..costmodel import Plan, PlanError, Stage

    def select_proxy(self: Any, candidates: list[Any]) -> Any:
        self._smolplug_choice = None
        cores = _cores()
        # 1, 2, 4, ... and cores - 1 (one core is left for the other stage); linear in between
        threads = sorted({1 << k for k in range(cores.bit_length()) if 1 << k < cores} | {max(1, cores - 1)})
        decode = {
            size: {
                t: measure_preprocessing(
                    self.video,
                    size,
                    size,
                    threads=t,
                    spec=spec(size),
                    seconds=0.3,
                    headroom=options.get("scale_headroom", 1.0),
                )
                for t in threads
            }
            for size in sorted({c.size for c in candidates})
        }
        plans = []
        for c in candidates:
            frames = getattr(self, "_smolplug_frames", {}).get(c.size)
            x = frames if frames is not None and len(frames) == BATCH else (BATCH, 3, c.size, c.size)
            dnn = {t: call_rate(_executor(self, c.model, t, options).run, x) for t in threads}
            if cores >= 2:
                stages: tuple[Stage, ...] = (Stage("decode", decode[c.size]), Stage("dnn", dnn))
            else:  # one core: no overlap, the stages take turns
                d = Stage("decode", decode[c.size]).rate(1)
                stages = (Stage("decode+dnn", {1: 1 / (1 / d + 1 / dnn[1])}),)
            plans.append(Plan(c.name, c.corr, stages, {"width": c.width, "size": c.size}))
        try:
            choice = select_plan(plans, self.min_corr, cores)
        except PlanError:  # nothing reaches the target: the engine's own fallback
            return original(self, candidates)
        self._smolplug_choice = choice
        return next(c for c in candidates if c.name == choice.plan.name)

    return select_proxy


adapter = Adapter(
    "blazeit_ref",
    TARGET,
    _apply,
    "BlazeIt-style engine: low-resolution fused decoding, proxy chosen by the pipelined cost model, "
    "decoding overlapped with the proxy",
)
enable, disable = adapter.enable, adapter.disable
