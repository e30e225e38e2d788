"""Adapter for the NoScope-style reference engine (``integration_tests.engines.noscope``).

Replaces ``NoScope.load`` — the original decodes every frame with OpenCV at full resolution and
keeps every k-th — with smolplug: only the sampled frames (and the frames they depend on) are
decoded, at the lowest resolution that covers 100x100 (a low-res rendition when one exists),
converted straight to the 100x100 BGR input of the difference detector; the CNN's 50x50 input is
its 2x2 box average. When the query is positional (a region of the frame), only that region plus
``roi_margin`` (a fraction of the frame) is converted: the difference detector and the CNN see
the part of the frame the predicate is about. The engine trains its CNN and fits its thresholds
on frames loaded the same way, so its accuracy targets keep holding.

It also replaces the engine's cost model (``NoScope.cascade_cost``, which counts DNN work only)
with smolplug's pipelined one, through the ``smolplug_estimate_cost`` hook: decoding (its rate
measured on the engine's own training load) and the specialized CNN (its rate measured per
candidate width, scaled by the share of frames the difference detector passes) run as a
pipeline on the machine's cores, so a CNN that hides under decoding costs nothing extra and the
engine's model search may keep a larger, more accurate one. Reference-model calls (the frames
the cascade passes to the reference model) are priced at the reference model's measured seconds
per call: the option ``reference_seconds``, else the host's ``reference.seconds_per_call(video)``
(OpenCV's HOG, timed once per process), else NoScope's price relative to the base CNN
(60000 : 400) — plus, when the engine runs the reference model on decoded frames, what fetching
a frame costs with smolplug.

Reference-model frames: with ``reference_fetch`` (default True), ``NoScope.load_reference`` (an
OpenCV seek and full-resolution read per frame the cascade passes on) becomes smolplug's sampled
decoding of the same frames at full resolution (one GOP-aware pass over them, frames no
requested one depends on skipped); the detector sees identical pixels.

The region of interest changes what the CNN and the difference detector see, and so where the
engine's threshold search lands and how many frames its cascade sends to the reference model. On
vtest.avi the default margin (0.1) made 62 ± 10 reference calls over training seeds 0-4, against
52 ± 15 for the engine's own full frames; over seeds 0-2, margins 0.1 / 0.25 / 0.4 made 67 ± 9 /
53 ± 8 / 39 ± 7 (CNN AUC on held-out frames 0.94-0.95 / 0.95-0.96 / 0.96), and the held-out
calls the search counts predicted the query's within a few. With the cost model on, the adapter
therefore trains the engine once per margin in ``roi_margins`` and keeps the cascade with the
lowest predicted cost. Not candidates: margin 0 (44 ± 3 calls, but FP 10.1% on the query frames
in one seed, over the 10% target) and whole frames (their cascades met the FN target on the
held-out frames and missed it on the query frames, FN 23-26% in all five seeds).

Options (``enable(**options)``): ``roi`` (default True), ``roi_margin`` (a single margin; default:
the cost model's choice among ``roi_margins``, (0.1, 0.25, 0.4)), ``scale_headroom`` (1.0;
``inf`` decodes at full resolution), ``threads``, ``cost_model`` (default True: replace the
engine's cost model), ``reference_seconds`` (None: measured), ``reference_fetch`` (True),
``static_camera`` (True, with the cost model: offer the CNN pass as an exact static camera).

Static camera (:mod:`smolplug.explain.static`): consecutive sampled frames of a fixed camera
differ in a few places, so the CNN can compute, per frame, only the pixels of each layer that
the changed pixels reach, from a reference frame's cached activations — exact (threshold 0:
every differing pixel propagates). The cost model times it against the whole CNN pass on the
engine's own loaded frames, per candidate width, and prices the CNN stage with the faster; the
run then uses what was priced (``engine._smolplug_static[width]`` says what was measured and
chosen). On vtest.avi the MPEG-4 noise changes most 4x4 blocks of the 50x50 input between
sampled frames, so the option is measured slower and declined; on a clean static camera it is
chosen. Only the exact mode is offered: an approximate threshold needs its accuracy measured.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..request.spec import FrameSpec
from . import Adapter, Patcher
from ._frames import load_frames, patch_reference_fetch, reader_options

TARGET = "integration_tests.engines.noscope"
#: region-of-interest margins the cost model chooses among (the first is the default alone)
ROI_MARGINS = (0.1, 0.25, 0.4)
#: the static camera is chosen only when measured this much faster than the whole CNN pass
STATIC_MARGIN = 1.1


def region_roi(
    region: tuple[float, float, float, float], margin: float, width: int, height: int
) -> tuple[float, float, float, float] | None:
    """Pixel ROI (x, y, w, h) of a fractional region grown by ``margin``; None for the whole frame."""
    x0, y0, x1, y1 = region
    x0, y0 = max(0.0, x0 - margin), max(0.0, y0 - margin)
    x1, y1 = min(1.0, x1 + margin), min(1.0, y1 + margin)
    if x0 <= 0 and y0 <= 0 and x1 >= 1 and y1 >= 1:
        return None
    return (x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)


def _apply(module: ModuleType, patcher: Patcher, options: dict[str, Any]) -> None:
    from ..video import load_index

    engine_cls = module.NoScope
    loaded_cls = module.LoadedFrames
    size, small = module.DIFF_SIZE, module.CNN_SIZE
    if size % small:
        raise ValueError(f"{TARGET}: CNN size {small} does not divide the difference size {size}")
    f = size // small

    def load(self: Any, indices: np.ndarray) -> Any:
        q = self.query
        roi = None
        if options.get("roi", True):
            ix = load_index(q.video)
            margin = self.__dict__.get("_smolplug_roi_margin", options.get("roi_margin", ROI_MARGINS[0]))
            roi = region_roi(q.region, margin, ix.width, ix.height)
        spec = FrameSpec(size, size, roi=roi, colorspace="BGR", layout="NHWC", dtype="uint8")
        got = load_frames(q.video, indices, spec, **reader_options(options))
        # what decoding costs here, per decoded frame, for the cost model below
        self._smolplug_decode_fps = got.frames_decoded / max(got.seconds, 1e-9)
        big = got.data
        n = len(big)
        half = big.reshape(n, small, f, small, f, 3).mean(axis=(2, 4), dtype=np.float32)
        cnn = np.rint(half).astype(np.uint8)
        self._smolplug_cnn_frames = (got.indices, cnn)  # the static-camera option is timed on them
        return loaded_cls(
            got.indices,
            [big, cnn],
            got.frames_decoded,
            got.pixels_decoded,
            got.seconds,
            loader="smolplug",
            details={"roi": roi, "reader": got.reader},
        )

    patcher.setattr(engine_cls, "load", load)
    if options.get("reference_fetch", True):
        patch_reference_fetch(engine_cls, patcher)
    if options.get("cost_model", True):
        patcher.setattr(engine_cls, "cascade_cost", _pipelined_cost(module, engine_cls.cascade_cost, options))
        margins = (
            (options["roi_margin"],)
            if "roi_margin" in options
            else tuple(options.get("roi_margins", ROI_MARGINS))
        )
        if options.get("roi", True) and len(margins) > 1:
            patcher.setattr(engine_cls, "train", _train_per_margin(engine_cls.train, margins))
        if options.get("static_camera", True):
            _offer_static_camera(module, engine_cls, patcher)


def _offer_static_camera(module: ModuleType, engine_cls: type, patcher: Patcher) -> None:
    """The run's CNN pass as an exact static camera where the cost model chose it for the
    cascade's width (``engine._smolplug_static[width]["chosen"]``)."""
    import weakref

    from ._timing import static_predict

    chosen: Any = weakref.WeakSet()
    patcher.setattr(module, "predict", static_predict(module.predict, chosen))
    original_run = engine_cls.run

    def run(self: Any) -> Any:
        if self.cascade is None:
            self.train()
        pick = self.__dict__.get("_smolplug_static", {}).get(self.cascade.width)
        if pick and pick["chosen"]:
            chosen.add(self.model)
        else:
            chosen.discard(self.model)
        return original_run(self)

    patcher.setattr(engine_cls, "run", run)


def _train_per_margin(original: Any, margins: tuple[float, ...]) -> Any:
    def train(self: Any) -> Any:
        """The engine's training (CNN, threshold search) once per region-of-interest margin; the
        cascade with the lowest predicted cost — seconds through the pipeline plus held-out
        reference calls at their measured cost — is kept with its CNN, mean frame and margin."""
        fitted = []
        for margin in margins:
            self._smolplug_roi_margin, self._smolplug_static = margin, {}  # timed on this margin's frames
            cascade = original(self)
            fitted.append(
                (cascade.cost, margin, cascade, self.model, self.mean, self.candidates, self._smolplug_static)
            )
        self._smolplug_margin_costs = {m: cost for cost, m, *_ in fitted}
        best = min(fitted, key=lambda f: f[0])
        _, margin, cascade, self.model, self.mean, self.candidates, self._smolplug_static = best
        self._smolplug_roi_margin, self.cascade = margin, cascade
        return cascade

    return train


def _pipelined_cost(module: ModuleType, original: Any, options: dict[str, Any]) -> Any:
    import importlib
    import os

    from ..api import estimate_cost
    from ..plan.costmodel import Stage
    from ._frames import reference_fetch_seconds
    from ._timing import predict_rate, static_rate

    common = importlib.import_module(module.__package__ + ".common")
    rates: dict[int, float] = {}

    def cnn_fps(width: int) -> float:
        """The engine's own CNN inference path on one core, timed once per width."""
        if width not in rates:
            model = common.make_cnn(module.CNN_SIZE, width=width).eval()
            rates[width] = predict_rate(module.predict, model, (256, 3, module.CNN_SIZE, module.CNN_SIZE))
        return rates[width]

    def cascade_cost(
        self: Any, frames: int, diffs: int, cnn_calls: int, oracle_calls: int, width: int
    ) -> float:
        """Seconds: sampled frames through the decode -> CNN pipeline, plus reference calls."""
        decode_fps = getattr(self, "_smolplug_decode_fps", None)
        if not decode_fps or frames == 0:  # nothing loaded through smolplug yet: the engine's model
            return original(self, frames, diffs, cnn_calls, oracle_calls, width)
        k = self.query.k  # every frame is decoded to reach each sampled one (reference frames)
        r_decode = decode_fps / k
        r_cnn = cnn_fps(width) * static_speedup(self, width) * frames / max(cnn_calls, 1)
        cores = os.cpu_count() or 1
        if cores >= 2:
            t = estimate_cost([Stage("decode", {1: r_decode}), Stage("dnn", {1: r_cnn})], cores).throughput
        else:  # one core: the stages take turns
            t = 1 / (1 / r_decode + 1 / r_cnn)
        return frames / t + oracle_calls * reference_seconds(self)

    def static_speedup(engine: Any, width: int) -> float:
        """The CNN pass as an exact static camera, a plan option costed like the others: its
        rate and the whole pass's, timed on up to 256 consecutive sampled frames the engine
        loaded (every k-th, as the query samples), a fresh CNN of this width (the speed does not
        depend on the weights). Chosen — the CNN's rate scaled by the ratio — only when
        ``STATIC_MARGIN`` times faster; recorded per width in ``engine._smolplug_static``."""
        if not options.get("static_camera", True):
            return 1.0
        memo = engine.__dict__.setdefault("_smolplug_static", {})
        if width not in memo:
            indices, small = engine.__dict__.get("_smolplug_cnn_frames", (np.zeros(0, np.int64), None))
            k = engine.query.k
            sel = np.flatnonzero(indices % k == indices[0] % k)[:256] if len(indices) else indices
            if len(sel) < 2:
                return 1.0
            x = np.ascontiguousarray(engine._cnn_input(small[sel]), np.float32)
            model = common.make_cnn(module.CNN_SIZE, width=width).eval()
            whole = predict_rate(getattr(module.predict, "__wrapped__", module.predict), model, x)
            static = static_rate(model, x, threads=1)
            memo[width] = {
                "frames": len(x),
                "whole_fps": whole,
                "static_fps": static,
                "speedup": static / whole,
                "chosen": static > STATIC_MARGIN * whole,
            }
        pick = memo[width]
        return pick["speedup"] if pick["chosen"] else 1.0

    def reference_seconds(engine: Any) -> float:
        """Seconds per reference-model call: the detector's (the option, the host's measurement,
        else NoScope's price relative to the base CNN) plus fetching its frame with smolplug
        (worked out once per engine: the search asks per cascade)."""
        if "_smolplug_reference_seconds" not in engine.__dict__:
            if options.get("reference_seconds") is not None:
                per_call = float(options["reference_seconds"])
            else:
                try:
                    measure = importlib.import_module(module.__package__ + ".reference").seconds_per_call
                    per_call = float(measure(engine.query.video))
                except (ImportError, AttributeError):
                    per_call = module.COSTS["oracle"] / (cnn_fps(16) * module.COSTS["cnn"])
            engine._smolplug_reference_seconds = per_call + reference_fetch_seconds(engine, options)
        return engine._smolplug_reference_seconds

    return cascade_cost


adapter = Adapter(
    "noscope_ref",
    TARGET,
    _apply,
    "NoScope-style engine: sampled, low-resolution, region-of-interest frame loading",
)
enable, disable = adapter.enable, adapter.disable
