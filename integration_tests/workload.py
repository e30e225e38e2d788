"""The end-to-end workload shared by the integration tests, ``smolplug demo`` and
``benchmarks/end_to_end.py``: prepare the videos, run the reference engines' queries with the
plugin off and on, and collect what each run cost and how accurate it was.

This module (unlike ``engines/``) uses smolplug: to make the 1080p transcode and the low-res
renditions, and to switch the adapters on and off.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smolplug.adapters import get as get_adapter
from smolplug.video import load_index
from smolplug.video.renditions import list_renditions, make_renditions, transcode

from .engines import blazeit, noscope
from .engines.common import UnfitVideoError, check_labels, video_frame_count
from .engines.reference import REF_SIZE, Labels, default_cache_dir, label_video, seconds_per_call
from .longvideo import long_video, source_key

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SMOLPLUG_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_VIDEO = SHARED / "video" / "vtest.avi"
QUERIES = ("noscope", "aggregate", "limit")
# the BlazeIt-style engine's candidate proxies (CNN width, input side) and the held-out
# correlation a proxy must reach; its own (DNN-only) choice is the cheapest that does
BLAZEIT_PROXIES = ((8, 32), (16, 32), (8, 65), (16, 65))
BLAZEIT_MIN_CORR = 0.55
Progress = Callable[[str, int, int], None]  # (stage, done, total)
LONG_SECONDS = 3600  #: the long workload's length
HD_GOP = 20  #: frames per GOP of the 1080p transcode (2 s at 10 frames/s)
REFERENCE_MODEL = f"OpenCV HOG people detector at {REF_SIZE[0]}x{REF_SIZE[1]}"


def media_dir() -> Path:
    return default_cache_dir() / "media"


def prepare_video(
    src: Path = DEFAULT_VIDEO, *, hd: bool = False, renditions: bool = True, progress: Progress | None = None
) -> Path:
    """A working copy of ``src`` (or its 1440x1080 H.264 transcode when ``hd``) in the cache,
    with low-res renditions when ``renditions``; everything is reused while the source is
    unchanged."""
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(
            f"{src} not found (set SMOLPLUG_SHARED_DATA to the folder holding video/vtest.avi)"
        )
    out = media_dir()
    out.mkdir(parents=True, exist_ok=True)
    tag = "hd" if hd else "native"
    work = out / tag / src.name
    if hd:
        work = work.with_name(f"{src.stem}_1080p_h264.mp4")
    stamp = work.with_name(work.name + ".source")
    key = source_key(src)
    if hd:  # a camera-like stream: an IDR frame every 2 s (vtest.avi's own GOP is 25 s)
        key += f" gop {HD_GOP}"
    if not work.exists() or not stamp.exists() or stamp.read_text() != key:
        work.parent.mkdir(parents=True, exist_ok=True)
        cb = (lambda d, t: progress("transcode 1080p", d, t)) if progress and hd else None
        if hd:
            transcode(src, work, 1080, progress=cb, max_gop=HD_GOP)
        else:
            shutil.copyfile(src, work)
        stamp.write_text(key)
    if renditions:
        h = load_index(work).height
        # 1/3 and 1/6 of 1080p, 1/2 and 1/4 of smaller sources, and one rung just above the
        # 65x65 proxy input (BlazeIt-style queries decode it: ~1/12 of 1080p)
        heights = [360, 180, 90] if h >= 1080 else [h // 2, h // 4, h // 8]
        if {r.height for r in list_renditions(work)} != set(heights):
            cb = (lambda d, t: progress("renditions", d, t)) if progress else None
            make_renditions(work, heights, progress=cb)
    return work


def prepare_long(
    src: Path = DEFAULT_VIDEO, seconds: int = LONG_SECONDS, progress: Progress | None = None
) -> Path:
    """The long workload (:mod:`integration_tests.longvideo`: ``seconds`` of 1920x1080 H.264
    built from ``src``) with 360p/180p/90p renditions, built once and cached."""
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(
            f"{src} not found (set SMOLPLUG_SHARED_DATA to the folder holding video/vtest.avi)"
        )
    work = long_video(src, media_dir(), seconds, progress)
    heights = [360, 180, 90]
    if {r.height for r in list_renditions(work)} != set(heights):
        make_renditions(
            work, heights, progress=(lambda d, t: progress("renditions", d, t)) if progress else None
        )
    return work


def labels_for(src: Path = DEFAULT_VIDEO, progress: Progress | None = None) -> Labels:
    """Reference-model labels of the source (transcodes and renditions have the same frames);
    :class:`UnfitVideoError` when it cannot be read."""
    video_frame_count(src)
    try:
        return label_video(
            src, progress=(lambda d, t: progress("reference labels", d, t)) if progress else None
        )
    except OSError as e:  # frames OpenCV counted but could not decode
        raise UnfitVideoError(str(e)) from e


def check_queries(video: Path, labels: Labels, queries: tuple[str, ...] = QUERIES) -> None:
    """Raise :class:`UnfitVideoError`, saying what is missing, unless every query in ``queries``
    can train on ``video`` and check its accuracy target there (the engines' own checks, and
    enough frames for the limit query to find its N)."""
    check_labels(video, video_frame_count(video), len(labels))
    if "noscope" in queries:
        q = noscope.NoScopeQuery(str(video))
        noscope.check_fit(q, labels.in_region(q.region))
    counts = labels.counts()
    if {"aggregate", "limit"} & set(queries):
        blazeit.check_fit(str(video), counts)
    if "limit" in queries:
        n, m, gap = blazeit.LIMIT_N, blazeit.LIMIT_MIN_COUNT, blazeit.LIMIT_GAP
        found = blazeit.limit_reachable(counts, m, gap)
        if found < n:
            raise UnfitVideoError(
                f"{video}: the limit query wants {n} frames with at least {m} people, more than {gap} "
                f"frames apart; the reference model finds at most {found} such frames"
            )


def reference_seconds(video: Path) -> float:
    """The reference model's measured seconds per call on this machine (HOG at its input size,
    median of many calls; measured once per process)."""
    return seconds_per_call(str(video))


@dataclass
class QueryRun:
    query: str
    plugin: bool
    seconds: float  #: the query (loading + the engine's work + its reference calls), training excluded
    stages: dict
    frames_decoded: int
    pixels_decoded: int
    oracle_calls: int
    accuracy: str  #: the query's own guarantee, as measured against the reference labels
    meets_target: bool
    train_seconds: float
    details: dict = field(default_factory=dict)
    #: seconds of ``seconds`` spent fetching reference frames, and on the detector (run or charged)
    fetch_seconds: float = 0.0
    detector_seconds: float = 0.0
    #: reference answers checked against cached labels of the same frames, and how many agreed
    checked: int = 0
    agreed: int = 0

    @property
    def reference_seconds(self) -> float:
        return self.fetch_seconds + self.detector_seconds

    @property
    def engine_seconds(self) -> float:
        """The query's time without its reference calls."""
        return self.seconds - self.reference_seconds


def set_plugin(on: bool, **options) -> None:
    """Both engines' adapters on (with ``options``, e.g. ``reference_seconds``) or off."""
    for name in ("noscope_ref", "blazeit_ref"):
        a = get_adapter(name)
        if on:
            a.enable(**options)
        else:
            a.disable()


def run_noscope(
    video: Path,
    labels: Labels,
    plugin: bool,
    query: noscope.NoScopeQuery | None = None,
    engine: dict | None = None,
    **options,
) -> QueryRun:
    """The NoScope-style query, trained and run once; ``engine``: the engine's reference-call
    options (``reference``, ``reference_batch``, ``reference_seconds``)."""
    set_plugin(plugin, **options)
    q = query or noscope.NoScopeQuery(str(video))
    eng = noscope.NoScope(q, labels, **(engine or {}))
    t = time.perf_counter()
    cascade = eng.train()
    train = time.perf_counter() - t
    r = eng.run()
    fp, fn = r.rates(eng.truth, labels.labelled)
    ok = fp <= q.fp_target and fn <= q.fn_target
    return _query_run(
        "noscope",
        plugin,
        r,
        f"FP {fp:.1%} / FN {fn:.1%} (target ≤ {q.fp_target:.0%} / {q.fn_target:.0%})",
        ok,
        train,
        {
            "fp": fp,
            "fn": fn,
            "cascade": cascade,
            "positives": len(r.positives),
            "roi_margin": getattr(eng, "_smolplug_roi_margin", None),
            "margin_costs": dict(getattr(eng, "_smolplug_margin_costs", {})),
        },
    )


def _query_run(
    query: str, plugin: bool, result, accuracy: str, ok: bool, train: float, details: dict
) -> QueryRun:
    """A QueryRun from an engine's result (``seconds``, ``load``, ``oracle_calls``, ``reference``)."""
    ref = result.reference
    return QueryRun(
        query,
        plugin,
        result.seconds["total"],
        result.seconds,
        result.load.frames_decoded,
        result.load.pixels_decoded,
        result.oracle_calls,
        accuracy,
        ok,
        train,
        {**details, "loader": result.load.loader},
        ref.fetch,
        ref.detector,
        ref.checked,
        ref.agreed,
    )


def run_blazeit(
    video: Path,
    labels: Labels,
    plugin: bool,
    which: tuple[str, ...] = ("aggregate", "limit"),
    *,
    eps: float = 0.1,
    engine: dict | None = None,
    **options,
) -> list[QueryRun]:
    """The BlazeIt-style queries ``which`` on one engine trained once; ``engine``: its options
    (reference calls, ``train_span``)."""
    set_plugin(plugin, **{"queries": which, **options})  # proxies costed by these queries' reference calls
    eng = make_blazeit(video, labels, **(engine or {}))
    t = time.perf_counter()
    eng.train()
    train = time.perf_counter() - t
    choice = getattr(eng, "_smolplug_choice", None)
    proxy = {
        "proxy": eng.proxy.name,
        "corr": eng.proxy.corr,
        "selected_by": "smolplug cost model (pipeline + reference calls)"
        if choice is not None
        else "engine (DNN-only)",
        "candidates": {c.name: c.corr for c in eng.candidates},
        "macs": {c.name: c.macs for c in eng.candidates},
    }
    if choice is not None:
        proxy["predicted"] = {k: e.throughput for k, e in choice.estimates.items()}
        proxy["work"] = {k: e.work for k, e in choice.estimates.items()}
        proxy["predicted_seconds"] = dict(choice.seconds)
        proxy["expected_calls"] = dict(getattr(eng, "_smolplug_reference_calls", {}))
    truth = float(labels.counts()[labels.labelled].mean())
    out = []
    if "aggregate" in which:
        a = eng.aggregate(eps=eps)
        err = abs(a.estimate - truth)
        out.append(
            _query_run(
                "aggregate",
                plugin,
                a,
                f"avg {a.estimate:.3f} vs true {truth:.3f}: error {err:.3f} (bound {eps}, {a.method})",
                err <= eps,
                train,
                {"estimate": a.estimate, "truth": truth, "method": a.method, **proxy, **_fps(a.load)},
            )
        )
    if "limit" in which:
        n, m, gap = blazeit.LIMIT_N, blazeit.LIMIT_MIN_COUNT, blazeit.LIMIT_GAP
        r = eng.limit(n=n, min_count=m, gap=gap)
        counts = labels.counts()
        true_hits = bool(np.all(counts[r.frames] >= m)) and len(r.frames) == n  # all labelled here
        spread = bool(np.all(np.diff(np.sort(r.frames)) > gap))
        out.append(
            _query_run(
                "limit",
                plugin,
                r,
                f"{len(r.frames)}/{n} frames with ≥{m} people, all true hits: {true_hits}",
                true_hits and spread,
                train,
                {"frames": r.frames.tolist(), **proxy, **_fps(r.load)},
            )
        )
    return out


def _fps(load) -> dict:
    """The pipelined proxy pass's predicted and measured frames/s (plugin on)."""
    return {k: load.details[k] for k in ("predicted_fps", "measured_fps") if k in load.details}


def make_blazeit(video: Path, labels: Labels, **engine) -> blazeit.BlazeIt:
    """The BlazeIt-style engine with the workload's candidate proxies."""
    return blazeit.BlazeIt(str(video), labels, proxies=BLAZEIT_PROXIES, min_corr=BLAZEIT_MIN_CORR, **engine)


def run_all(
    video: Path,
    labels: Labels,
    plugin: bool,
    queries: tuple[str, ...] = QUERIES,
    engine: dict | None = None,
    **options,
) -> list[QueryRun]:
    """The ``queries`` with the adapters off, or on with ``options``."""
    runs = []
    if "noscope" in queries:
        runs.append(run_noscope(video, labels, plugin, engine=engine, **options))
    bl = tuple(q for q in queries if q in ("aggregate", "limit"))
    if bl:
        runs += run_blazeit(video, labels, plugin, bl, engine=engine, **options)
    set_plugin(False)
    return runs
