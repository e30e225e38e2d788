"""Adapter for the BlazeIt-style reference engine (``integration_tests.engines.blazeit``).

Replaces four pieces of the engine:

* ``BlazeIt.load`` — the original decodes every frame with OpenCV at full resolution, then
  resizes, converts and normalises it in separate passes. Here each frame is decoded at the
  lowest resolution covering the proxy's input (a low-res rendition when one exists) and
  converted in one fused native pass into the engine's normalised NCHW float32 batch.
* ``BlazeIt.select_proxy`` — the engine keeps the cheapest candidate proxy by multiply-
  accumulates whose held-out correlation reaches ``min_corr`` (a DNN-only cost model). Here every
  candidate becomes a :class:`~smolplug.plan.costmodel.Plan` — accuracy: its held-out correlation;
  stages: decoding every frame at its input size (measured on the video's first 150 frames
  per core count, as ``smolplug calibrate`` does) and the proxy CNN run by smolplug's executor
  (``smolplug_make_executor``, backend ``auto``: the faster of torch and onnxruntime, timed on
  the engine's own frames per core count) — and ``smolplug_select_plan``
  picks the plan reaching ``min_corr`` with the fewest predicted seconds per query: every frame
  through the pipeline, plus the reference-model calls the engine's queries are expected to
  make with that proxy (estimated on the held-out frames, below) at the reference model's
  measured cost. A larger input that decodes no slower, or a proxy that hides under decoding, is
  no longer penalised by its multiply-accumulates, and a proxy that ranks frames better wins
  when the calls it saves cost more than the decoding it adds (ties on a shared bottleneck go to
  the plan doing less work). When no plan reaches the target the engine's own fallback (the
  most correlated proxy) stands.
* ``BlazeIt.load_reference`` (with ``reference_fetch``, default True) — the frames the queries
  send to the reference model are read with smolplug's sampled decoding at full resolution (one
  GOP-aware pass over them) instead of an OpenCV seek and read each; the detector sees identical
  pixels.
* ``BlazeIt.score_all`` — "load every frame, then run the proxy" becomes one pipeline (decoding
  in a reader thread, the proxy on smolplug's executor in the caller's), with the cores split as
  the chosen plan's estimate says. onnxruntime ran these small CNNs 2–4.6x faster than eager
  torch and, releasing the GIL for a whole batch, slows the decoding thread less.

Expected reference-model calls per candidate, from its predictions on the engine's held-out
frames (``Proxy.heldout``) and the queries' own parameters (their signatures' defaults):

* limit: the engine's ranked search run on the held-out frames (real frame numbers, so ``gap``
  blocks the same span); the calls at which the ``n x share``-th hit came (``share``: the
  held-out frames' share of the video, interpolated between hits), scaled by ``1 / share``.
* aggregate: the sample count at which the engine's empirical-Bernstein bound on the
  control-variate estimate falls below ``eps``, with the held-out frames' variance and range of
  the controlled variable (a better-correlated proxy needs fewer samples). Query rewriting (the
  proxy's mean alone, taken when the held-out bias is within ``eps / 2``) is not counted on:
  the held-out bias is too noisy to choose a proxy by (rewritten answers' errors reached 0.09
  of the 0.1 bound on vtest.avi), and preferring proxies that happen to pass it would make the
  engine rewrite more often on luck.

The reference model's cost per call comes from the option ``reference_seconds``, else from the
host's ``reference.seconds_per_call(video)`` (OpenCV's HOG, timed once per process), plus
fetching its frame with smolplug when the engine runs the model on decoded frames (timed once
per video on 16 random frames); 0 leaves reference calls out.

Options (``enable(**options)``): ``scale_headroom`` (1.0), ``threads`` (decoding threads; default:
the cost model's split), ``backend`` (executor backend for the proxy: "auto", "torch",
"onnxruntime"), ``select`` (True: replace ``select_proxy``), ``pipeline`` (True: replace
``score_all``), ``queries`` (("aggregate", "limit"): whose reference calls a proxy is costed
by), ``reference_seconds`` (None: measured), ``reference_fetch`` (True), ``static_camera``
(True: also cost each candidate as an exact static camera).

Static camera (:mod:`smolplug.explain.static`): a fixed camera's consecutive frames differ in a
few places, so the proxy can compute only the pixels each layer's change reaches from a
reference frame's cached activations — exact, the same scores to float rounding. Each
candidate's plan gets a twin (name + ``STATIC``) whose DNN stage is the static camera's rate
timed on the engine's loaded frames (:func:`~smolplug.adapters._timing.static_rate`) per
thread count, costed by the same search; when a twin wins, ``score_all`` runs its proxy through
:class:`~smolplug.adapters._timing.StaticExecutor` (the reference carried across batches, which
the pipeline delivers in frame order). On vtest.avi the coding noise changes most of each frame
and the whole-frame executor wins; the twin wins on clean static footage.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from types import ModuleType
from typing import Any

import numpy as np

from ..request.spec import FrameSpec
from . import Adapter, Patcher
from ._frames import load_frames, patch_reference_fetch, reader_options, reference_fetch_seconds, score_frames
from ._timing import StaticExecutor, call_rate, static_rate

TARGET = "integration_tests.engines.blazeit"
BATCH = 64  #: frames per batch in the pipelined proxy pass (and in its cost estimate)
STATIC = "+static"  #: suffix of a candidate's plan with the proxy run as an exact static camera


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
    if options.get("reference_fetch", True):
        patch_reference_fetch(engine_cls, patcher)
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
            est = choice.estimate if choice is not None and _base(choice.plan.name) == proxy.name else None
            split = est.split if est is not None else {}
            cores = _cores()
            dec = options.get("threads") or split.get("decode") or max(1, cores - 1)
            dnn = split.get("dnn") or max(1, cores - dec)
            if getattr(self, "_smolplug_static", False):  # the cost model chose the static camera
                ex: Any = StaticExecutor(self.model, dnn, BATCH)
            else:
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


def expected_limit_calls(
    scores: np.ndarray, counts: np.ndarray, frames: np.ndarray, total: int, n: int, min_count: int, gap: int
) -> float:
    """Reference calls of the limit query over a ``total``-frame video, estimated from held-out
    ``frames`` (ascending frame numbers) with the proxy's ``scores`` and the reference ``counts``:
    the engine's ranked search on them, read at ``n * share`` hits and scaled by ``1 / share``."""
    share = len(frames) / total
    blocked = np.zeros(total, bool)
    calls, hit_at = 0, [0]
    for j in np.argsort(-scores, kind="stable"):
        f = int(frames[j])
        if blocked[f]:
            continue
        calls += 1
        if counts[j] >= min_count:
            hit_at.append(calls)
            blocked[max(f - gap, 0) : f + gap + 1] = True
    want = n * share
    k = math.floor(want)
    if k + 1 >= len(hit_at):  # the held-out frames ran out of hits: every one of them was checked
        return calls / share
    return (hit_at[k] + (want - k) * (hit_at[k + 1] - hit_at[k])) / share


def expected_sampling_calls(
    proxy: np.ndarray, truth: np.ndarray, total: int, eps: float, delta: float, min_samples: int
) -> float:
    """Reference calls of control-variate sampling over a ``total``-frame video: the first sample
    count at which the engine's empirical-Bernstein bound (finite-population corrected) is
    within ``eps``, with the controlled variable's variance and range as on held-out frames."""
    p, y = np.asarray(proxy, np.float64), np.asarray(truth, np.float64)
    c = float(np.cov(y, p, bias=True)[0, 1] / p.var()) if p.var() > 0 else 0.0
    z = y - c * (p - p.mean())
    log_term = math.log(3 / delta)
    var, spread = float(z.var()), float(np.ptp(z))
    for n in range(max(min_samples, 1), total):
        fpc = math.sqrt(1 - (n - 1) / total)
        if (math.sqrt(2 * var * log_term / n) + 3 * spread * log_term / n) * fpc <= eps:
            return float(n)
    return float(total)


def _defaults(fn: Any) -> dict[str, Any]:
    return {
        k: v.default
        for k, v in inspect.signature(fn).parameters.items()
        if v.default is not inspect.Parameter.empty
    }


def _reference_calls(
    module: ModuleType, engine: Any, proxy: Any, queries: tuple[str, ...]
) -> dict[str, float]:
    """Expected reference-model calls per query with ``proxy`` (see the module docstring)."""
    held = getattr(engine, "heldout_frames", None)
    if held is None:
        idx = np.arange(engine.n_frames)
        held = idx[idx % 3 == 2]
    if proxy.heldout is None or len(proxy.heldout) != len(held):
        return {}
    truth = engine.counts[held]
    out: dict[str, float] = {}
    if "aggregate" in queries:
        a = _defaults(module.BlazeIt.aggregate)
        out["aggregate"] = expected_sampling_calls(
            proxy.heldout, truth, engine.n_frames, a["eps"], a["delta"], a["min_samples"]
        )
    if "limit" in queries:
        lim = _defaults(module.BlazeIt.limit)
        out["limit"] = expected_limit_calls(
            proxy.heldout, truth, held, engine.n_frames, lim["n"], lim["min_count"], lim["gap"]
        )
    return out


def _reference_seconds(module: ModuleType, engine: Any, options: dict[str, Any]) -> float:
    """Seconds per reference-model call: the detector's (the option, else the host's own
    measurement, else 0: calls not costed) plus fetching its frame with smolplug."""
    if options.get("reference_seconds") is not None:
        detector = float(options["reference_seconds"])
    else:
        try:
            reference = importlib.import_module(module.__package__ + ".reference")
        except ImportError:
            return 0.0
        measure = getattr(reference, "seconds_per_call", None)
        detector = float(measure(engine.video)) if measure else 0.0
    if detector == 0.0:
        return 0.0
    return detector + reference_fetch_seconds(engine, options)


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


def _base(plan_name: str) -> str:
    """The candidate proxy's name of a plan (its static-camera variant ends in ``STATIC``)."""
    return plan_name.removesuffix(STATIC)


def _restaged(plan: Any, dnn: dict[int, float], decode_1: float | None) -> Any:
    """``plan`` with its proxy run as a static camera at rates ``dnn`` (one core: decoding at
    ``decode_1`` frames/s takes turns with it)."""
    import dataclasses

    from ..plan.costmodel import Stage

    if decode_1 is None:
        stages = tuple(Stage("dnn", dnn) if s.name == "dnn" else s for s in plan.stages)
    else:
        stages = (Stage("decode+dnn", {1: 1 / (1 / decode_1 + 1 / dnn[1])}),)
    return dataclasses.replace(
        plan, name=plan.name + STATIC, stages=stages, params={**plan.params, "static_camera": True}
    )


def _select_proxy(module: ModuleType, original: Any, spec: Any, options: dict[str, Any]) -> Any:
    from ..api import select_plan
    from ..plan.calibrate import measure_preprocessing
    from ..plan.costmodel import Plan, PlanError, Stage

    def select_proxy(self: Any, candidates: list[Any]) -> Any:
        self._smolplug_choice, self._smolplug_static = None, False
        self._smolplug_reference_calls = {}
        cores = _cores()
        queries = tuple(options.get("queries", ("aggregate", "limit")))
        per_call = _reference_seconds(module, self, options) if queries else 0.0
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
            calls = _reference_calls(module, self, c, queries) if per_call > 0 else {}
            self._smolplug_reference_calls[c.name] = calls
            plan = Plan(
                c.name,
                c.corr,
                stages,
                {"width": c.width, "size": c.size},
                items=self.n_frames,
                reference_calls=sum(calls.values()),
                reference_seconds=per_call,
            )
            plans.append(plan)
            if options.get("static_camera", True) and frames is not None and len(frames) == BATCH:
                # the same proxy as an exact static camera: the same answers, its own measured rate
                rates = {t: static_rate(c.model, frames, t, BATCH) for t in threads}
                plans.append(_restaged(plan, rates, d if cores < 2 else None))
        try:
            choice = select_plan(plans, self.min_corr, cores)
        except PlanError:  # nothing reaches the target: the engine's own fallback
            return original(self, candidates)
        self._smolplug_choice = choice
        self._smolplug_static = choice.plan.name.endswith(STATIC)
        return next(c for c in candidates if c.name == _base(choice.plan.name))

    return select_proxy


adapter = Adapter(
    "blazeit_ref",
    TARGET,
    _apply,
    "BlazeIt-style engine: low-resolution fused decoding, proxy chosen by the pipelined cost model, "
    "decoding overlapped with the proxy",
)
enable, disable = adapter.enable, adapter.disable
