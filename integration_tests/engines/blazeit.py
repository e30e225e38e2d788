"""A BlazeIt-style engine: aggregation and limit queries over object counts.

Faithful to BlazeIt (Kang et al., VLDB 2019) with today's libraries:

* **Loader** (the original's): every frame is decoded with ``cv2.VideoCapture`` and resized to
  65x65 (``cv2.resize``), converted to RGB, scaled to [0, 1] and normalised with the ImageNet
  mean/std into an NCHW float32 array, before the query runs.
* **Proxy**: a specialized CNN regressing the per-frame count of the reference model, trained on
  frames ``i % 3 == 1``; frames ``i % 3 == 2`` are held out. With several candidate proxies
  (``proxies``: CNN width x input size) each is trained and scored on the held-out frames by its
  correlation with the reference counts (what control variates and ranking depend on);
  :meth:`BlazeIt.select_proxy` keeps the cheapest by multiply-accumulates whose correlation
  reaches ``min_corr`` — a DNN-only cost model: loading is not counted.
* **Aggregation** ("average count per frame, error within eps at confidence 1 - delta"): when the
  proxy's mean on the held-out frames is within eps/2 of the truth there, its mean over the video
  is the answer (BlazeIt's query rewriting); otherwise control-variate sampling (the proxy as
  control variate) with an empirical-Bernstein stopping rule, calling the reference model on
  random frames until the bound is below eps (or every frame was sampled: the exact answer).
* **Limit** ("N frames with at least M people"): frames ranked by proxy score, the reference
  model checks them in that order, ``gap`` frames either side of a hit are skipped, stop at N.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from .common import (
    LoadedFrames,
    ReferenceCalls,
    ReferenceStats,
    UnfitVideoError,
    check_labels,
    cnn_macs,
    predict,
    read_every_frame,
    train_cnn,
    video_frame_count,
)
from .reference import Labels

SIZE = 65
# the limit query: N frames with at least MIN_COUNT people, GAP frames apart (18.6% of vtest.avi's
# frames have >= 4 people by the reference model)
LIMIT_N, LIMIT_MIN_COUNT, LIMIT_GAP = 10, 4, 10
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _preprocess(size: int):
    def convert(frame: np.ndarray) -> tuple[np.ndarray]:
        small = cv2.resize(frame, (size, size))
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return (((rgb - MEAN) / STD).transpose(2, 0, 1),)

    return convert


def check_fit(video: str, counts: np.ndarray) -> None:
    """Raise :class:`UnfitVideoError`, saying what is missing, unless the reference counts vary
    on both the training frames (``i % 3 == 1``) and the held-out ones (``i % 3 == 2``): a count
    proxy cannot be trained, or scored by its correlation, on a constant."""
    idx = np.arange(len(counts))
    if not counts.any():
        raise UnfitVideoError(
            f"{video}: the reference model finds no people in any of its {len(counts)} frames"
        )
    for name, part in (("training", counts[idx % 3 == 1]), ("held-out", counts[idx % 3 == 2])):
        if len(part) < 2 or np.ptp(part) == 0:
            what = (
                f"all {len(part)} {name} frames have {int(part[0])} people"
                if len(part)
                else f"no {name} frames"
            )
            raise UnfitVideoError(f"{video}: {what}: a count proxy cannot be trained and scored on it")


def limit_reachable(counts: np.ndarray, min_count: int = LIMIT_MIN_COUNT, gap: int = LIMIT_GAP) -> int:
    """The most frames with at least ``min_count`` people that are more than ``gap`` frames apart
    (taking the earliest qualifying frame each time is optimal)."""
    found, last = 0, -gap - 1
    for f in np.flatnonzero(counts >= min_count):
        if f - last > gap:
            found, last = found + 1, int(f)
    return found


@dataclass
class Proxy:
    """A trained candidate proxy and how it did on the held-out frames."""

    width: int  #: CNN filters in the first block
    size: int  #: input side, pixels
    model: object = field(repr=False)
    corr: float  #: Pearson correlation with the reference counts
    bias: float  #: mean(proxy) - mean(reference)
    mae: float
    macs: int
    #: its predictions on the held-out frames (``i % 3 == 2``, in frame order)
    heldout: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"cnn{self.width}@{self.size}"


@dataclass
class AggregateResult:
    estimate: float
    error_bound: float
    method: str  #: "rewrite" (proxy only) or "control-variates"
    oracle_calls: int
    load: LoadedFrames
    seconds: dict = field(default_factory=dict)
    reference: ReferenceStats = field(default_factory=ReferenceStats)


@dataclass
class LimitResult:
    frames: np.ndarray  #: the hits, in the order found
    oracle_calls: int
    load: LoadedFrames
    seconds: dict = field(default_factory=dict)
    reference: ReferenceStats = field(default_factory=ReferenceStats)


class BlazeIt(ReferenceCalls):
    """Train candidate proxies on the first ``train_span`` frames (None: the whole video), then
    answer ``aggregate`` and ``limit`` queries. Reference-model calls
    (:class:`~.common.ReferenceCalls`): ``reference`` "run" / "charge" / "labels", fetched
    ``reference_batch`` at a time, the detector charged at ``reference_seconds`` per call."""

    def __init__(
        self,
        video: str,
        labels: Labels,
        *,
        seed: int = 0,
        proxies: tuple[tuple[int, int], ...] = ((16, SIZE),),
        min_corr: float = 0.0,
        train_span: int | None = None,
        reference: str = "charge",
        reference_batch: int = 16,
        reference_seconds: float | None = None,
    ):
        self.video = video
        self.proxies = tuple(proxies)
        self.min_corr = min_corr
        self.candidates: list[Proxy] = []
        self.proxy: Proxy | None = None
        self.labels = labels
        self.counts = labels.counts()
        self.n_frames = video_frame_count(video)
        check_labels(video, self.n_frames, len(labels))
        self.span = min(train_span or self.n_frames, self.n_frames)
        if not labels.labelled[: self.span].all():
            raise UnfitVideoError(
                f"{video}: the training span (first {self.span} frames) is not all labelled"
            )
        self.seed = seed
        self.model = None
        self.oracle_calls = 0
        self._ref_init(reference, reference_batch, reference_seconds)

    @property
    def heldout_frames(self) -> np.ndarray:
        """The frames candidates are scored on (``i % 3 == 2`` in the training span)."""
        idx = np.arange(self.span)
        return idx[idx % 3 == 2]

    # -- the pieces a plugin may replace -------------------------------------------------------
    def load(self, indices: np.ndarray, size: int = SIZE) -> LoadedFrames:
        """Frames ``indices`` as one (N, 3, size, size) float32 array, ImageNet-normalised RGB."""
        return read_every_frame(self.video, indices, _preprocess(size))

    def select_proxy(self, candidates: list[Proxy]) -> Proxy:
        """The cheapest candidate by multiply-accumulates whose held-out correlation reaches
        ``min_corr`` (the most correlated one when none does)."""
        ok = [c for c in candidates if c.corr >= self.min_corr]
        if not ok:
            return max(candidates, key=lambda c: c.corr)
        return min(ok, key=lambda c: (c.macs, -c.corr))

    def score_all(self) -> tuple[np.ndarray, LoadedFrames, float]:
        """The proxy's score for every frame: load them all, then run the proxy on them."""
        assert self.proxy is not None
        data = self.load(np.arange(self.n_frames), self.proxy.size)
        t = time.perf_counter()
        scores = predict(self.model, data.arrays[0])
        return scores, data, time.perf_counter() - t

    def oracle(self, frames, skip=None):
        """(frame, people counted by the reference model) for each of ``frames`` that ``skip``
        does not reject, one call each, lazily (see :meth:`ReferenceCalls.reference_calls`)."""
        for f, boxes in self.reference_calls(frames, skip):
            self.oracle_calls += 1
            yield f, len(boxes)

    def _ref_seconds(self, before: ReferenceStats) -> tuple[ReferenceStats, float]:
        """Reference stats since ``before`` and the detector seconds charged (not spent)."""
        self.close_reference()
        ref = self.ref_stats.since(before)
        return ref, ref.detector if self.reference == "charge" else 0.0

    # -- training ----------------------------------------------------------------------------
    def train(self) -> float:
        """Train every candidate proxy and select one; returns its mean absolute error on the
        held-out frames."""
        check_fit(self.video, self.counts[: self.span])
        idx = np.arange(self.span)
        tr, va = idx[idx % 3 == 1], idx[idx % 3 == 2]
        yt, yv = self.counts[tr].astype(np.float32), self.counts[va]
        self.candidates = []
        for size in sorted({s for _, s in self.proxies}):
            data = self.load(np.union1d(tr, va), size)
            pos = {int(f): i for i, f in enumerate(data.indices)}
            (x,) = data.arrays
            xt, xv = x[[pos[int(f)] for f in tr]], x[[pos[int(f)] for f in va]]
            for width in sorted({w for w, s in self.proxies if s == size}):
                model = train_cnn(xt, yt, loss="mse", seed=self.seed, epochs=30, width=width)
                pv = predict(model, xv)
                corr = float(np.corrcoef(pv, yv)[0, 1]) if pv.std() > 0 else 0.0
                self.candidates.append(
                    Proxy(
                        width,
                        size,
                        model,
                        corr,
                        float(pv.mean() - yv.mean()),
                        float(np.abs(pv - yv).mean()),
                        cnn_macs(size, width),
                        pv,
                    )
                )
        self.proxy = self.select_proxy(self.candidates)
        self.model = self.proxy.model
        self.heldout_bias = self.proxy.bias
        return self.proxy.mae

    def _proxy_all(self) -> tuple[np.ndarray, LoadedFrames, float]:
        if self.model is None:
            self.train()
        return self.score_all()

    # -- queries -----------------------------------------------------------------------------
    def aggregate(self, eps: float = 0.1, delta: float = 0.05, min_samples: int = 30) -> AggregateResult:
        t0 = time.perf_counter()
        proxy, data, t_proxy = self._proxy_all()
        t1 = time.perf_counter()
        calls0, ref0 = self.oracle_calls, self.ref_stats.copy()
        if abs(self.heldout_bias) <= eps / 2:
            est, bound, method = float(proxy.mean()), abs(self.heldout_bias), "rewrite"
        else:
            est, bound = self._control_variates(proxy, eps, delta, min_samples)
            method = "control-variates"
        ref, charged = self._ref_seconds(ref0)
        t2 = time.perf_counter()
        return AggregateResult(
            est,
            bound,
            method,
            self.oracle_calls - calls0,
            data,
            {
                "load": data.seconds,
                "proxy": t_proxy,
                "sampling": t2 - t1 + charged,
                "total": t2 - t0 + charged,
            },
            ref,
        )

    def _control_variates(
        self, proxy: np.ndarray, eps: float, delta: float, min_samples: int
    ) -> tuple[float, float]:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(self.n_frames)
        mu_p = float(proxy.mean())
        ys, ps = [], []
        log_term = math.log(3 / delta)
        for n, (f, count) in enumerate(self.oracle(order), start=1):
            ys.append(count)
            ps.append(float(proxy[f]))
            if n < min_samples:
                continue
            y, p = np.asarray(ys, np.float64), np.asarray(ps, np.float64)
            var_p = p.var()
            c = float(np.cov(y, p, bias=True)[0, 1] / var_p) if var_p > 0 else 0.0
            z = y - c * (p - mu_p)
            if n == self.n_frames:  # every frame seen: the exact mean
                return float(y.mean()), 0.0
            rng_z = float(z.max() - z.min())
            # empirical Bernstein bound (Mnih et al. 2008), finite-population correction
            fpc = math.sqrt(1 - (n - 1) / self.n_frames)
            bound = (math.sqrt(2 * z.var() * log_term / n) + 3 * rng_z * log_term / n) * fpc
            if bound <= eps:
                return float(z.mean()), bound
        return float(np.mean(ys)), 0.0

    def limit(self, n: int = LIMIT_N, min_count: int = LIMIT_MIN_COUNT, gap: int = LIMIT_GAP) -> LimitResult:
        t0 = time.perf_counter()
        proxy, data, t_proxy = self._proxy_all()
        t1 = time.perf_counter()
        calls0, ref0 = self.oracle_calls, self.ref_stats.copy()
        blocked = np.zeros(self.n_frames, bool)
        hits: list[int] = []
        ranked = np.argsort(-proxy, kind="stable")
        for f, count in self.oracle(ranked, skip=lambda f: bool(blocked[f])):
            if count >= min_count:
                hits.append(f)
                blocked[max(f - gap, 0) : f + gap + 1] = True
                if len(hits) == n:
                    break
        ref, charged = self._ref_seconds(ref0)
        t2 = time.perf_counter()
        return LimitResult(
            np.asarray(hits, np.int64),
            self.oracle_calls - calls0,
            data,
            {"load": data.seconds, "proxy": t_proxy, "search": t2 - t1 + charged, "total": t2 - t0 + charged},
            ref,
        )
