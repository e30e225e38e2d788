"""End-to-end benchmark: the reference engines' queries, plugin off vs on, one process, with the
reference model charged.

Queries (integration_tests/engines): NoScope-style "frames with a person in the left third"
(every 3rd frame, FP/FN <= 10%), BlazeIt-style "average people per frame within +-0.1" and
"10 frames with >= 4 people".

Inputs: by default the two 80-s clips, ../shared/data/video/vtest.avi (768x576 MPEG-4 part 2) and
its 1440x1080 H.264 transcode (2-s GOP), each with low-res renditions (made once, not timed).
``--long``: one hour of 1920x1080 H.264 built from vtest.avi (integration_tests/longvideo.py,
36,000 frames, built once and cached with 360p/180p/90p renditions; ~20 min on two cores), the
engines trained on its first ``--train-span`` frames ("train on one day, query the next").

Time = the query: frame loading, the engine's own work (difference detector, CNN, sampling) and
its reference-model calls. Every call fetches its frame at full resolution by random access
(plugin off: OpenCV seek + read per frame; plugin on: smolplug's sampled decoding of the next 16
candidates at once) and then runs OpenCV's HOG detector on it (``--reference run``, the default
for ``--long``, whose frames are not all labelled) or answers from the cached labels and charges
HOG's measured seconds per call (``--reference charge``, the default for the clips); the fetch
and detector seconds are also shown on their own. Each engine is trained once per mode (plugin
off: on OpenCV-loaded frames; on: on smolplug-loaded frames; the plugin-off BlazeIt-style engine
serves both of its queries), then the queries are timed ``--repeats`` times, off and on
interleaved; the median is reported.

    .venv/bin/python benchmarks/end_to_end.py [--repeats 3] [--skip-native] [--skip-hd]
    .venv/bin/python benchmarks/end_to_end.py --long [--repeats 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.engines import blazeit, noscope  # noqa: E402
from integration_tests.engines.reference import detect, label_video  # noqa: E402
from integration_tests.workload import (  # noqa: E402
    DEFAULT_VIDEO,
    LONG_SECONDS,
    REFERENCE_MODEL,
    labels_for,
    make_blazeit,
    prepare_long,
    prepare_video,
    reference_seconds,
    set_plugin,
)
from smolplug.cli import make_console  # noqa: E402
from smolplug.video import load_index  # noqa: E402

DAY, WEEK = 86_400, 7 * 86_400


class Case:
    """One query; ``engine(plugin)`` is its trained engine in that mode, ``run(mode)`` times it
    once. ``options`` go to the adapters (plugin on)."""

    def __init__(self, name, make, query, shared=None, **options):
        self.name, self.make, self.query, self.options = name, make, query, options
        self.shared = shared  #: a case whose plugin-off engine this one reuses (same training)
        self.engines = {}
        self.train_seconds = {}
        self.results = {False: [], True: []}

    def train(self, plugin: bool) -> None:
        if not plugin and self.shared is not None and False in self.shared.engines:
            self.engines[False] = self.shared.engines[False]
            self.train_seconds[False] = 0.0
            return
        set_plugin(plugin, **self.options)
        eng = self.make()
        t = time.perf_counter()
        eng.train()
        self.train_seconds[plugin] = time.perf_counter() - t
        self.engines[plugin] = eng

    def run(self, plugin: bool) -> None:
        set_plugin(plugin, **self.options)
        self.results[plugin].append(self.query(self.engines[plugin]))


def stats(result) -> dict:
    """Uniform view of a NoScope/BlazeIt result."""
    ref = result.reference
    return {
        "total": result.seconds["total"],
        "load": result.seconds["load"],
        "fetch": ref.fetch,
        "detector": ref.detector,
        "fetched": ref.fetched,
        "checked": ref.checked,
        "agreed": ref.agreed,
        "frames": result.load.frames_decoded,
        "pixels": result.load.pixels_decoded,
        "oracle": result.oracle_calls,
        "loader": result.load.loader,
    }


def proxy_note(engine, result) -> str:
    """Which proxy the engine runs (and, plugin on, the pipeline's predicted/measured frames/s)."""
    p = getattr(engine, "proxy", None)
    if p is None:
        margin = getattr(engine, "_smolplug_roi_margin", None)
        return f"margin {margin}" if margin is not None else "whole frame"
    d = result.load.details
    fps = f" {d['predicted_fps']:,.0f}/{d['measured_fps']:,.0f} fps" if "predicted_fps" in d else ""
    return f"{p.name} r={p.corr:.2f}{fps}"


def verify_hits(video: Path, frames, labels) -> np.ndarray:
    """People per returned frame by the reference model: the cached label where there is one,
    else HOG on the frame read by OpenCV's seek (frame-exact on the H.264 inputs here)."""
    import cv2

    counts = labels.counts()
    out = []
    cap = cv2.VideoCapture(str(video))
    try:
        for f in frames:
            if counts[f] >= 0:
                out.append(int(counts[f]))
                continue
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(f))
            ok, img = cap.read()
            out.append(len(detect(img)) if ok else -1)
    finally:
        cap.release()
    return np.asarray(out)


def bench_video(
    video: Path, labels, repeats: int, per_call: float, engine: dict, train_span=None
) -> list[dict]:
    ix = load_index(video)
    nq = noscope.NoScopeQuery(str(video), train_span=train_span)
    ref = {"reference_seconds": per_call}
    span = {"train_span": train_span}
    agg = Case(
        "aggregate",
        lambda: make_blazeit(video, labels, **engine, **span),
        lambda e: e.aggregate(eps=0.1),
        queries=("aggregate",),
        **ref,
    )
    cases = [
        Case("noscope", lambda: noscope.NoScope(nq, labels, **engine), lambda e: e.run(), **ref),
        agg,
        Case(
            "limit",
            lambda: make_blazeit(video, labels, **engine, **span),
            lambda e: e.limit(),
            shared=agg,
            queries=("limit",),
            **ref,
        ),
    ]
    for c in cases:
        for plugin in (False, True):
            c.train(plugin)
            print(
                f"  trained {c.name} plugin {'on' if plugin else 'off'} in {c.train_seconds[plugin]:.1f} s",
                flush=True,
            )
    for r in range(repeats):
        for c in cases:
            for plugin in (False, True):
                c.run(plugin)
                s = stats(c.results[plugin][-1])
                print(
                    f"  repeat {r + 1}: {c.name} plugin {'on' if plugin else 'off'}: {s['total']:.1f} s "
                    f"({s['oracle']} calls, fetch {s['fetch']:.1f} s, detector {s['detector']:.1f} s)",
                    flush=True,
                )
    set_plugin(False)
    rows = []
    known = labels.labelled
    truth_ns = labels.in_region(nq.region)
    counts = labels.counts()
    every = counts[known & (np.arange(len(counts)) >= (train_span or 0))]
    truth_mean = float(counts[known].mean()) if train_span is None else float(every.mean())
    for c in cases:
        row = {
            "video": f"{video.name} ({ix.width}x{ix.height} {ix.codec}, {ix.n_frames} frames)",
            "query": c.name,
            "n_frames": ix.n_frames,
        }
        for plugin in (False, True):
            runs = [stats(r) for r in c.results[plugin]]
            med = {k: statistics.median(s[k] for s in runs) for k in ("total", "load", "fetch", "detector")}
            row[plugin] = {**runs[-1], **med, "train": c.train_seconds[plugin]}
            last = c.results[plugin][-1]
            row[plugin]["proxy"] = proxy_note(c.engines[plugin], last)
            if c.name == "noscope":
                fp, fn = last.rates(truth_ns, known)
                row[plugin]["accuracy"] = f"FP {fp:.1%} FN {fn:.1%}"
                row[plugin]["ok"] = fp <= nq.fp_target and fn <= nq.fn_target
                row[plugin]["sampled"] = len(last.frames)
            elif c.name == "aggregate":
                err = abs(last.estimate - truth_mean)
                row[plugin]["accuracy"] = f"err {err:.3f} ({last.method})"
                row[plugin]["ok"] = err <= 0.1
            else:
                got = verify_hits(video, last.frames, labels)
                ok = bool(np.all(got >= blazeit.LIMIT_MIN_COUNT)) and len(last.frames) == blazeit.LIMIT_N
                row[plugin]["accuracy"] = f"{len(last.frames)} true hits" if ok else "WRONG"
                row[plugin]["ok"] = ok
        rows.append(row)
    if train_span is not None:
        se = float(every.std() / np.sqrt(len(every)))
        print(
            f"  aggregate truth: mean of the {len(every):,} labelled frames after the training span "
            f"(every {int(np.median(np.diff(np.flatnonzero(known[train_span:]))))}th): {truth_mean:.3f} "
            f"(standard error {se:.3f} if independent)"
        )
    return rows


def per_frame(rows: list[dict]) -> list[dict]:
    """Per-frame and per-call costs of each row, for the scaling projection and the check that
    the long video's agree with the short clips'."""
    out = []
    for r in rows:
        n = r["n_frames"]
        for plugin in (False, True):
            s = r[plugin]
            calls = max(s["oracle"], 1)
            out.append(
                {
                    "video": r["video"],
                    "query": r["query"],
                    "plugin": plugin,
                    "engine_ms_per_frame": 1e3 * (s["total"] - s["fetch"] - s["detector"]) / n,
                    "load_ms_per_decoded": 1e3 * s["load"] / max(s["frames"], 1),
                    "fetch_ms_per_call": 1e3 * s["fetch"] / calls,
                    "detector_ms_per_call": 1e3 * s["detector"] / calls,
                    "calls": s["oracle"],
                    "calls_per_frame": s["oracle"] / n,
                }
            )
    return out


def projection(rows: list[dict]) -> list[tuple]:
    """Query seconds for one day and one week of the same camera (10 frames/s), from the measured
    per-frame engine cost and per-call reference cost: the NoScope-style query's calls grow with
    the frames it scans (measured calls per frame), the BlazeIt-style queries' do not (their
    calls depend on the count variance / the ranking, measured here; the aggregate's sample
    count is kept, which its finite-population correction makes a slight overestimate)."""
    out = []
    for p in per_frame(rows):
        for label, seconds in (("1 day", DAY), ("1 week", WEEK)):
            n = seconds * 10
            calls = p["calls_per_frame"] * n if p["query"] == "noscope" else p["calls"]
            ref = calls * (p["fetch_ms_per_call"] + p["detector_ms_per_call"]) / 1e3
            out.append((p["query"], p["plugin"], label, n, calls, p["engine_ms_per_frame"] * n / 1e3, ref))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--repeats", type=int, default=None, help="default: 3 (clips), 1 (--long)")
    ap.add_argument("--skip-native", action="store_true")
    ap.add_argument("--skip-hd", action="store_true")
    ap.add_argument("--long", action="store_true", help="the one-hour 1080p workload instead of the clips")
    ap.add_argument("--long-seconds", type=int, default=LONG_SECONDS)
    ap.add_argument("--train-span", type=int, default=6000, help="--long: train on the first N frames")
    ap.add_argument(
        "--label-every", type=int, default=30, help="--long: label every Nth frame after the span"
    )
    ap.add_argument("--reference", choices=("charge", "run"), default=None)
    ap.add_argument("--json", type=Path, help="write the rows, per-frame costs and projection here")
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    hog = reference_seconds(args.video)
    console.print(f"reference model ({REFERENCE_MODEL}): {hog * 1e3:.1f} ms per call (median)")
    rows = []
    if args.long:
        repeats = args.repeats or 1
        mode = args.reference or "run"
        t = time.perf_counter()
        video = prepare_long(args.video, args.long_seconds, progress=_printer(console))
        console.print(f"long workload: {video} ({video.stat().st_size / 1e9:.2f} GB)")
        labels = label_video(
            video,
            span=args.train_span,
            every=args.label_every,
            progress=lambda d, n: _printer(console)("labels", d, n),
        )
        console.print(
            f"  ready after {time.perf_counter() - t:.0f} s ({int(labels.labelled.sum()):,} frames labelled)"
        )
        engine = {"reference": mode, "reference_seconds": hog}
        rows += bench_video(video, labels, repeats, hog, engine, train_span=args.train_span)
    else:
        repeats = args.repeats or 3
        engine = {"reference": args.reference or "charge", "reference_seconds": hog}
        labels = labels_for(args.video)
        videos = []
        if not args.skip_native:
            videos.append(prepare_video(args.video))
        if not args.skip_hd:
            videos.append(prepare_video(args.video, hd=True))
        for v in videos:
            console.print(
                f"[bold]{v.name}[/bold]: training both modes, then {repeats} interleaved repeats ..."
            )
            rows += bench_video(v, labels, repeats, hog, engine)
    mode = engine["reference"]
    t = Table(
        title=f"end to end, reference model {'run' if mode == 'run' else 'charged'}: "
        f"plugin off vs on (median of {repeats})"
    )
    for col in (
        "video",
        "query",
        "off s",
        "on s",
        "speedup",
        "ref calls off/on",
        "fetch s off/on",
        "detector s off/on",
        "speedup w/o reference",
        "MP decoded off/on",
        "accuracy off | on",
        "proxy off | on (predicted/measured)",
    ):
        t.add_column(col)
    for r in rows:
        a, b = r[False], r[True]
        ea, eb = a["total"] - a["fetch"] - a["detector"], b["total"] - b["fetch"] - b["detector"]
        t.add_row(
            r["video"],
            r["query"],
            f"{a['total']:.2f}",
            f"{b['total']:.2f}",
            f"[bold]{a['total'] / b['total']:.2f}x[/bold]",
            f"{a['oracle']}/{b['oracle']}",
            f"{a['fetch']:.2f}/{b['fetch']:.2f}",
            f"{a['detector']:.2f}/{b['detector']:.2f}",
            f"{ea / eb:.1f}x",
            f"{a['pixels'] / 1e6:,.0f}/{b['pixels'] / 1e6:,.0f}",
            f"{'✓' if a['ok'] else '✗'} {a['accuracy']} | {'✓' if b['ok'] else '✗'} {b['accuracy']}",
            f"{a['proxy']} | {b['proxy']}",
        )
    console.print(t)
    pf = Table(title="per-frame and per-call costs (ms)")
    for col in (
        "video",
        "query",
        "plugin",
        "engine / frame",
        "load / decoded frame",
        "fetch / call",
        "detector / call",
        "calls",
        "answers = labels",
    ):
        pf.add_column(col)
    for p, r in zip(per_frame(rows), [r for r in rows for _ in (0, 1)], strict=True):
        s = r[p["plugin"]]
        agree = f"{s['agreed']}/{s['checked']}" if s["checked"] else "-"
        pf.add_row(
            p["video"],
            p["query"],
            "on" if p["plugin"] else "off",
            f"{p['engine_ms_per_frame']:.3f}",
            f"{p['load_ms_per_decoded']:.3f}",
            f"{p['fetch_ms_per_call']:.1f}",
            f"{p['detector_ms_per_call']:.1f}",
            str(p["calls"]),
            agree,
        )
    console.print(pf)
    proj = projection(rows)
    if args.long:
        pt = Table(
            title="projection from the measured costs (10 frames/s camera; a projection, not a measurement)"
        )
        for col in (
            "query",
            "length",
            "frames",
            "calls off/on",
            "off h (engine + reference)",
            "on h (engine + reference)",
            "speedup",
        ):
            pt.add_column(col)
        for q in ("noscope", "aggregate", "limit"):
            for label in ("1 day", "1 week"):
                off = next(p for p in proj if p[0] == q and not p[1] and p[2] == label)
                on = next(p for p in proj if p[0] == q and p[1] and p[2] == label)
                pt.add_row(
                    q,
                    label,
                    f"{off[3]:,}",
                    f"{off[4]:,.0f}/{on[4]:,.0f}",
                    f"{(off[5] + off[6]) / 3600:.2f} ({off[5] / 3600:.2f} + {off[6] / 3600:.2f})",
                    f"{(on[5] + on[6]) / 3600:.2f} ({on[5] / 3600:.2f} + {on[6] / 3600:.2f})",
                    f"{(off[5] + off[6]) / (on[5] + on[6]):.1f}x",
                )
        console.print(pt)
    if args.json:
        out = {
            "rows": [
                {k: v for k, v in r.items() if not isinstance(k, bool)} | {"off": r[False], "on": r[True]}
                for r in rows
            ],
            "per_frame": per_frame(rows),
            "projection": proj,
            "hog_seconds": hog,
        }
        args.json.write_text(json.dumps(out, default=str, indent=1))
    return 0 if all(r[m]["ok"] for r in rows for m in (False, True)) else 1


def _printer(console):
    last = [0.0]

    def report(stage, done, total):
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            console.print(f"  {stage}: {done:,}/{total:,}")

    return report


if __name__ == "__main__":
    sys.exit(main())
