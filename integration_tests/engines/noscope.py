"""A NoScope-style binary detection engine ("frames with a person in region R").

Faithful to NoScope's design (Kang et al., VLDB 2017) with today's libraries:

* **Loader** (the original's): ``cv2.VideoCapture`` decodes every frame at full resolution, the
  engine keeps every ``k``-th and resizes it with ``INTER_NEAREST`` to 100x100 (difference
  detector) and 50x50 (specialized CNN). Decoding cost is not part of its cost model.
* **Cascade**: per sampled frame, a difference detector (MSE of the 100x100 frames against the
  sampled frame ``delay`` steps earlier: below ``t_diff`` the earlier frame's answer is reused),
  then a specialized CNN on the mean-subtracted 50x50 frame (score below ``lower``: no, above
  ``upper``: yes), then the reference model for everything in between.
* **Optimizer**: grid search of (t_diff, lower, upper) on held-out frames for the cheapest
  cascade whose false-positive and false-negative rates meet the targets, with NoScope's cost
  model: 1 per frame + 10 per difference check + 400 per CNN call + 60000 per reference call.
  One deviation: a rate "meets" its target when its one-sided 90% Wilson upper bound on the
  held-out frames does (NoScope compared the raw rates; on a short clip the held-out set has a
  few dozen positives, and raw-rate thresholds did not carry over to the query frames).

Splits on one short clip: the query covers frames ``i % k == 0``; the CNN trains on
``i % k == 1`` and the thresholds are fit on ``i % k == 2`` (disjoint frames of the same
scene, like NoScope's "train on one day, query the next").
"""

from __future__ import annotations

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
from .reference import Labels, boxes_in_region

COSTS = {"frame": 1.0, "diff": 10.0, "cnn": 400.0, "oracle": 60000.0}
DIFF_SIZE = 100
CNN_SIZE = 50


@dataclass(frozen=True)
class NoScopeQuery:
    video: str
    region: tuple[float, float, float, float] = (0.0, 0.0, 1 / 3, 1.0)  #: x0, y0, x1, y1 (fractions)
    k: int = 3  #: evaluate every k-th frame
    delay: int = 1  #: difference detector: compare with the sampled frame this many steps earlier
    fp_target: float = 0.1
    fn_target: float = 0.1
    #: specialized-model candidates (first-layer filters); the optimizer keeps the cheapest cascade
    cnn_widths: tuple[int, ...] = (16,)
    seed: int = 0
    #: train and fit thresholds on the first ``train_span`` frames only (None: the whole video),
    #: like NoScope's "train on one day, query the next" on a long video
    train_span: int | None = None


@dataclass
class Cascade:
    t_diff: float
    lower: float
    upper: float
    cost: float
    val_fp: float
    val_fn: float
    width: int = 16


@dataclass
class NoScopeResult:
    positives: np.ndarray  #: frame indices the query answers "yes" for
    frames: np.ndarray  #: frame indices evaluated
    predicted: np.ndarray  #: bool per evaluated frame
    oracle_calls: int
    cnn_calls: int
    diff_skipped: int
    load: LoadedFrames
    seconds: dict = field(default_factory=dict)
    reference: ReferenceStats = field(default_factory=ReferenceStats)

    def rates(self, truth: np.ndarray, known: np.ndarray | None = None) -> tuple[float, float]:
        """(false-positive rate, false-negative rate) of the answer against per-frame truth, over
        the evaluated frames where ``known`` (default: all) says the truth is known."""
        k = np.ones(len(self.frames), bool) if known is None else known[self.frames]
        t, p = truth[self.frames][k], self.predicted[k]
        fp = np.sum(p & ~t) / max(int(np.sum(~t)), 1)
        fn = np.sum(~p & t) / max(int(np.sum(t)), 1)
        return float(fp), float(fn)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow for large negative logits."""
    return np.exp(-np.logaddexp(0, -np.asarray(x, np.float64))).astype(np.float32)


def _resize_pair(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        cv2.resize(frame, (DIFF_SIZE, DIFF_SIZE), interpolation=cv2.INTER_NEAREST),
        cv2.resize(frame, (CNN_SIZE, CNN_SIZE), interpolation=cv2.INTER_NEAREST),
    )


def wilson_upper(rate: float, n: int, z: float = 1.2816) -> float:
    """One-sided upper confidence bound (90% by default) of a binomial rate seen on ``n`` items."""
    if n <= 0:
        return 1.0
    d = 1 + z * z / n
    centre = rate + z * z / (2 * n)
    return float((centre + z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))) / d)


def min_checkable(target: float) -> int:
    """Fewest held-out frames of one class on which a rate of 0 meets ``target`` by its Wilson
    upper bound (``z^2 / (n + z^2) <= target``): on fewer, not even the cascade that asks the
    reference model about every frame can show that it meets the target."""
    if not 0 < target < 1:
        raise ValueError(f"a rate target must be in (0, 1), got {target}")
    n = 1
    while wilson_upper(0.0, n) > target:
        n += 1
    return n


def check_fit(query: NoScopeQuery, truth: np.ndarray) -> None:
    """Raise :class:`UnfitVideoError`, saying what is missing, unless the video has enough frames
    with and without the predicate for the query to train its CNN (frames ``i % k == 1``) and
    check its FP/FN targets on the held-out frames (``i % k == 2``)."""
    q, n = query, len(truth)
    need_pos, need_neg = min_checkable(q.fn_target), min_checkable(q.fp_target)
    targets = f"FP <= {q.fp_target:.0%} and FN <= {q.fn_target:.0%}"
    need_frames = q.k * (need_pos + need_neg)
    if n < need_frames:
        raise UnfitVideoError(
            f"{q.video}: {n} frames, too few for the NoScope-style query: it needs at least {need_frames} "
            f"(1 in {q.k} is held out to fit its thresholds, and checking {targets} there needs "
            f"{need_neg} held-out frames without and {need_pos} with the predicate)"
        )
    idx = np.arange(n)
    train, held = truth[idx % q.k == 1 % q.k], truth[idx % q.k == 2 % q.k]
    where = f"a person in the query's region {tuple(round(r, 3) for r in q.region)}"
    if not truth.any():
        raise UnfitVideoError(f"{q.video}: the reference model finds {where} in none of its {n} frames")
    pos, neg = int(held.sum()), int((~held).sum())
    for count, need, what in ((pos, need_pos, "with"), (neg, need_neg, "without")):
        if count < need:
            raise UnfitVideoError(
                f"{q.video}: {count} of the {len(held)} held-out frames are {what} {where}; checking "
                f"{targets} needs at least {need} ({int(truth.sum())} of all {n} frames have it)"
            )
    if train.all() or not train.any():
        raise UnfitVideoError(
            f"{q.video}: the training frames are all {'with' if train.all() else 'without'} {where}: "
            "the CNN cannot learn the predicate"
        )


def _fresh_sources(mse: np.ndarray, t_diff: float, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """For each sampled frame: is it evaluated (fresh), and which fresh frame's answer it ends up
    with (itself, or the one its difference check chains back to)."""
    n = len(mse)
    fresh = np.ones(n, bool)
    fresh[delay:] = mse[delay:] >= t_diff
    src = np.arange(n)
    for j in range(delay, n):
        if not fresh[j]:
            src[j] = src[j - delay]
    return fresh, src


class NoScope(ReferenceCalls):
    """Train the cascade for one query (``train``), then run it (``run``). Reference-model calls
    (:class:`~.common.ReferenceCalls`): ``reference`` "run" / "charge" / "labels", fetched
    ``reference_batch`` at a time, the detector charged at ``reference_seconds`` per call."""

    def __init__(
        self,
        query: NoScopeQuery,
        labels: Labels,
        *,
        reference: str = "charge",
        reference_batch: int = 16,
        reference_seconds: float | None = None,
    ):
        self.query = query
        self.video = query.video
        self.labels = labels
        self.truth = labels.in_region(query.region)
        self.n_frames = video_frame_count(query.video)
        check_labels(query.video, self.n_frames, len(labels))
        self.span = min(query.train_span or self.n_frames, self.n_frames)
        if not labels.labelled[: self.span].all():
            raise UnfitVideoError(
                f"{query.video}: the training span (first {self.span} frames) is not all labelled"
            )
        self.model = None
        self.mean: np.ndarray | None = None
        self.cascade: Cascade | None = None
        self.oracle_calls = 0
        self._ref_init(reference, reference_batch, reference_seconds)

    # -- the pieces a plugin may replace -------------------------------------------------------
    def load(self, indices: np.ndarray) -> LoadedFrames:
        """Frames ``indices`` as [100x100x3 uint8, 50x50x3 uint8] BGR arrays."""
        return read_every_frame(self.query.video, indices, _resize_pair)

    def oracle(self, frames: list[int]) -> dict[int, bool]:
        """The reference model's answer for each of ``frames`` (one call each)."""
        out = {f: boxes_in_region(b, self.query.region) for f, b in self.reference_calls(frames)}
        self.oracle_calls += len(out)
        return out

    # -- optimizer ---------------------------------------------------------------------------
    def _cnn_input(self, small: np.ndarray) -> np.ndarray:
        x = small.astype(np.float32) - self.mean
        return (x / 255.0).transpose(0, 3, 1, 2)

    @staticmethod
    def _mse(big: np.ndarray, delay: int) -> np.ndarray:
        f = big.astype(np.float32)
        mse = np.full(len(f), np.inf, np.float32)
        if len(f) > delay:
            mse[delay:] = ((f[delay:] - f[:-delay]) ** 2).mean(axis=(1, 2, 3))
        return mse

    def train(self) -> Cascade:
        q = self.query
        check_fit(q, self.truth[: self.span])
        idx = np.arange(self.span)
        train_idx, val_idx = idx[idx % q.k == 1 % q.k], idx[idx % q.k == 2 % q.k]
        data = self.load(np.union1d(train_idx, val_idx))
        pos = {int(f): i for i, f in enumerate(data.indices)}
        tr = np.array([pos[int(f)] for f in train_idx])
        va = np.array([pos[int(f)] for f in val_idx])
        big, small = data.arrays
        self.mean = small[tr].astype(np.float32).mean(axis=0)
        mse = self._mse(big[va], q.delay)
        diffs_ok = self._diff_thresholds(self._mse(big[tr], q.delay), self.truth[train_idx])
        self.candidates: dict[int, Cascade] = {}
        models = {}
        for width in q.cnn_widths:  # NoScope's model search: every candidate costed by its cascade
            models[width] = train_cnn(
                self._cnn_input(small[tr]),
                self.truth[train_idx].astype(np.float32),
                loss="bce",
                seed=q.seed,
                width=width,
            )
            scores = _sigmoid(predict(models[width], self._cnn_input(small[va])))
            self.candidates[width] = self._search(scores, mse, self.truth[val_idx], width, diffs_ok)
        self.cascade = min(self.candidates.values(), key=lambda c: c.cost)
        self.model = models[self.cascade.width]
        return self.cascade

    def cascade_cost(self, frames: int, diffs: int, cnn_calls: int, oracle_calls: int, width: int) -> float:
        """NoScope's cost model: DNN work only (decoding is not counted), the CNN costed by its
        multiply-accumulates relative to the 16-filter model's 400 units."""
        rel = cnn_macs(CNN_SIZE, width) / cnn_macs(CNN_SIZE, 16)
        return (
            COSTS["frame"] * frames
            + COSTS["diff"] * diffs
            + COSTS["cnn"] * rel * cnn_calls
            + COSTS["oracle"] * oracle_calls
        )

    def _diff_thresholds(self, mse: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """Candidate difference-detector thresholds that keep the targets on their own (answers
        copied along skipped frames, everything else right) on a second split (``mse``/``truth``
        of the training frames). The detector learns nothing from them, and the cascade search
        tries many thresholds on the validation frames: one that passes there by chance (a person
        entering between two frames the search happened to see) fails here."""
        q = self.query
        finite = mse[np.isfinite(mse)]
        cands = np.unique(np.quantile(finite, np.linspace(0.05, 0.9, 18))) if len(finite) else []
        npos, nneg = max(int(truth.sum()), 1), max(int((~truth).sum()), 1)
        keep = [0.0]
        for t_diff in cands:
            pred = truth[_fresh_sources(mse, t_diff, q.delay)[1]]
            fp = np.sum(pred & ~truth) / nneg
            fn = np.sum(~pred & truth) / npos
            if wilson_upper(fp, nneg) <= q.fp_target and wilson_upper(fn, npos) <= q.fn_target:
                keep.append(float(t_diff))
        return np.array(keep)

    def _search(
        self,
        scores: np.ndarray,
        mse: np.ndarray,
        truth: np.ndarray,
        width: int = 16,
        diffs_ok: np.ndarray | None = None,
    ) -> Cascade:
        q = self.query
        n = len(scores)
        npos, nneg = max(int(truth.sum()), 1), max(int((~truth).sum()), 1)
        qs = np.unique(np.quantile(scores, np.linspace(0, 1, 41)))
        lowers = np.concatenate([[-np.inf], qs])
        uppers = np.concatenate([qs, [np.inf]])
        finite = mse[np.isfinite(mse)]
        diffs = np.concatenate([[0.0], np.unique(np.quantile(finite, np.linspace(0.05, 0.9, 18)))])
        if diffs_ok is not None:  # no larger than the largest threshold the second split accepts
            diffs = diffs[diffs <= diffs_ok.max()]
        best: Cascade | None = None
        for t_diff in diffs:
            fresh, src = _fresh_sources(mse, t_diff, q.delay)
            n_fresh = int(fresh.sum())
            for lo in lowers:
                for hi in uppers:
                    if hi < lo:
                        continue
                    ans = np.where(scores < lo, False, np.where(scores > hi, True, truth))
                    oracle = int(np.sum(fresh & (scores >= lo) & (scores <= hi)))
                    pred = ans[src]
                    fp = np.sum(pred & ~truth) / nneg
                    fn = np.sum(~pred & truth) / npos
                    if wilson_upper(fp, nneg) > q.fp_target or wilson_upper(fn, npos) > q.fn_target:
                        continue
                    cost = self.cascade_cost(n, n - q.delay if t_diff > 0 else 0, n_fresh, oracle, width)
                    if best is None or cost < best.cost:
                        best = Cascade(float(t_diff), float(lo), float(hi), cost, float(fp), float(fn), width)
        if best is None:  # check_fit makes the all-oracle cascade meet the targets
            raise UnfitVideoError(f"{q.video}: no cascade meets FP <= {q.fp_target} and FN <= {q.fn_target}")
        return best

    # -- query -------------------------------------------------------------------------------
    def run(self) -> NoScopeResult:
        if self.cascade is None:
            self.train()
        q, c = self.query, self.cascade
        t0 = time.perf_counter()
        frames = np.arange(0, self.n_frames, q.k)
        data = self.load(frames)
        t1 = time.perf_counter()
        big, small = data.arrays
        mse = self._mse(big, q.delay) if c.t_diff > 0 else np.full(len(frames), np.inf, np.float32)
        fresh, src = _fresh_sources(mse, c.t_diff, q.delay)
        t2 = time.perf_counter()
        fidx = np.flatnonzero(fresh)
        scores = np.full(len(frames), np.nan, np.float32)
        scores[fidx] = _sigmoid(predict(self.model, self._cnn_input(small[fidx])))
        t3 = time.perf_counter()
        calls0, ref0 = self.oracle_calls, self.ref_stats.copy()
        s = scores[fidx]
        ans = np.zeros(len(frames), bool)
        ans[fidx] = s > c.upper
        unsure = fidx[(s >= c.lower) & (s <= c.upper)]
        try:
            said = self.oracle([int(f) for f in frames[unsure]])
        finally:
            self.close_reference()
        ans[unsure] = [said[int(f)] for f in frames[unsure]]
        pred = ans[src]
        ref = self.ref_stats.since(ref0)
        t4 = time.perf_counter()
        charged = ref.detector if self.reference == "charge" else 0.0
        return NoScopeResult(
            positives=frames[pred],
            frames=frames,
            predicted=pred,
            oracle_calls=self.oracle_calls - calls0,
            cnn_calls=len(fidx),
            diff_skipped=int(len(frames) - len(fidx)),
            load=data,
            seconds={
                "load": t1 - t0,
                "diff": t2 - t1,
                "cnn": t3 - t2,
                "oracle": t4 - t3 + charged,
                "total": t4 - t0 + charged,
            },
            reference=ref,
        )
