"""End-to-end benchmark: the reference engines' queries, plugin off vs on, one process.

Queries (integration_tests/engines): NoScope-style "frames with a person in the left third"
(every 3rd frame, FP/FN <= 10%), BlazeIt-style "average people per frame within +-0.1" and
"10 frames with >= 4 people". Inputs: ../shared/data/video/vtest.avi (768x576 MPEG-4 part 2) and
its 1440x1080 H.264 transcode, each with low-res renditions (made once, not timed).

For every video and mode, each engine is trained once (plugin off: on OpenCV-loaded frames;
plugin on: on smolplug-loaded frames), then the queries are timed ``--repeats`` times, off and
on interleaved; the median is reported. Time = the query: frame loading plus the engine's own
work (difference detector, CNN, sampling). Reference-model (HOG) calls are answered from
precomputed labels in both modes; a column charges each call at HOG's measured cost (median of
many calls), and the adapters cost their plans with that same figure. The BlazeIt-style engine
picks its proxy among 4 candidates (CNN width x input size): off by its DNN-only rule, on through
smolplug_select_plan with each candidate's expected reference calls (the last column: which, and
on, the pipelined proxy pass's predicted vs measured frames/s).

    .venv/bin/python benchmarks/end_to_end.py [--repeats 5] [--skip-native] [--skip-hd]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.engines import blazeit, noscope  # noqa: E402
from integration_tests.workload import (  # noqa: E402
    BLAZEIT_MIN_CORR,
    BLAZEIT_PROXIES,
    DEFAULT_VIDEO,
    REFERENCE_MODEL,
    labels_for,
    prepare_video,
    reference_seconds,
    set_plugin,
)
from smolplug.cli import make_console  # noqa: E402
from smolplug.video import load_index  # noqa: E402


class Case:
    """One query on one engine instance per mode; ``run(mode)`` times it once. ``options`` go to
    the adapters (plugin on)."""

    def __init__(self, name, make, query, **options):
        self.name, self.make, self.query, self.options = name, make, query, options
        self.engines = {}
        self.results = {False: [], True: []}

    def train(self, plugin: bool) -> None:
        set_plugin(plugin, **self.options)
        eng = self.make()
        eng.train()
        self.engines[plugin] = eng

    def run(self, plugin: bool) -> None:
        set_plugin(plugin, **self.options)
        self.results[plugin].append(self.query(self.engines[plugin]))


def stats(result) -> dict:
    """Uniform view of a NoScope/BlazeIt result."""
    return {
        "total": result.seconds["total"],
        "load": result.seconds["load"],
        "frames": result.load.frames_decoded,
        "pixels": result.load.pixels_decoded,
        "oracle": result.oracle_calls,
        "loader": result.load.loader,
    }


def make_blazeit(video: Path, labels) -> blazeit.BlazeIt:
    return blazeit.BlazeIt(str(video), labels, proxies=BLAZEIT_PROXIES, min_corr=BLAZEIT_MIN_CORR)


def proxy_note(engine, result) -> str:
    """Which proxy the engine runs (and, plugin on, the pipeline's predicted/measured frames/s)."""
    p = getattr(engine, "proxy", None)
    if p is None:
        return "-"
    d = result.load.details
    fps = f" {d['predicted_fps']:,.0f}/{d['measured_fps']:,.0f} fps" if "predicted_fps" in d else ""
    return f"{p.name} r={p.corr:.2f}{fps}"


def bench_video(video: Path, labels, repeats: int, console, per_call: float) -> list[dict]:
    ix = load_index(video)
    nq = noscope.NoScopeQuery(str(video))
    ref = {"reference_seconds": per_call}
    cases = [
        Case("noscope", lambda: noscope.NoScope(nq, labels), lambda e: e.run(), **ref),
        Case(
            "aggregate",
            lambda: make_blazeit(video, labels),
            lambda e: e.aggregate(eps=0.1),
            queries=("aggregate",),
            **ref,
        ),
        Case("limit", lambda: make_blazeit(video, labels), lambda e: e.limit(), queries=("limit",), **ref),
    ]
    for c in cases:
        for plugin in (False, True):
            c.train(plugin)
    for _ in range(repeats):
        for c in cases:
            for plugin in (False, True):
                c.run(plugin)
    set_plugin(False)
    rows = []
    truth_ns = labels.in_region(nq.region)
    for c in cases:
        row = {"video": f"{video.name} ({ix.width}x{ix.height} {ix.codec})", "query": c.name}
        for plugin in (False, True):
            runs = [stats(r) for r in c.results[plugin]]
            tot = statistics.median(s["total"] for s in runs)
            load = statistics.median(s["load"] for s in runs)
            row[plugin] = {**runs[0], "total": tot, "load": load}
            last = c.results[plugin][-1]
            row[plugin]["proxy"] = proxy_note(c.engines[plugin], last)
            if c.name == "noscope":
                fp, fn = last.rates(truth_ns)
                row[plugin]["accuracy"] = f"FP {fp:.1%} FN {fn:.1%}"
                row[plugin]["ok"] = fp <= nq.fp_target and fn <= nq.fn_target
            elif c.name == "aggregate":
                err = abs(last.estimate - labels.counts().mean())
                row[plugin]["accuracy"] = f"err {err:.3f} ({last.method})"
                row[plugin]["ok"] = err <= 0.1
            else:
                hits = labels.counts()[last.frames] >= blazeit.LIMIT_MIN_COUNT
                ok = bool(np.all(hits)) and len(last.frames) == blazeit.LIMIT_N
                row[plugin]["accuracy"] = f"{len(last.frames)} true hits" if ok else "WRONG"
                row[plugin]["ok"] = ok
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-native", action="store_true")
    ap.add_argument("--skip-hd", action="store_true")
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    labels = labels_for(args.video)
    hog = reference_seconds(args.video)
    console.print(f"reference model ({REFERENCE_MODEL}): {hog * 1e3:.1f} ms per call (median)")
    videos = []
    if not args.skip_native:
        videos.append(prepare_video(args.video))
    if not args.skip_hd:
        videos.append(prepare_video(args.video, hd=True))
    rows = []
    for v in videos:
        console.print(
            f"[bold]{v.name}[/bold]: training both modes, then {args.repeats} interleaved repeats ..."
        )
        rows += bench_video(v, labels, args.repeats, console, hog)
    t = Table(title="end to end: plugin off vs on (median of repeats)")
    for col in (
        "video",
        "query",
        "off s (load)",
        "on s (load)",
        "speedup",
        "load speedup",
        "frames off/on",
        "MP off/on",
        "ref calls off/on",
        "accuracy off | on",
        "speedup incl. ref calls",
        "proxy off | on (predicted/measured)",
    ):
        t.add_column(col)
    for r in rows:
        a, b = r[False], r[True]
        inc_a, inc_b = a["total"] + a["oracle"] * hog, b["total"] + b["oracle"] * hog
        t.add_row(
            r["video"],
            r["query"],
            f"{a['total']:.3f} ({a['load']:.3f})",
            f"{b['total']:.3f} ({b['load']:.3f})",
            f"[bold]{a['total'] / b['total']:.1f}x[/bold]",
            f"{a['load'] / b['load']:.1f}x",
            f"{a['frames']}/{b['frames']}",
            f"{a['pixels'] / 1e6:.0f}/{b['pixels'] / 1e6:.0f}",
            f"{a['oracle']}/{b['oracle']}",
            f"{'✓' if a['ok'] else '✗'} {a['accuracy']} | {'✓' if b['ok'] else '✗'} {b['accuracy']}",
            f"{inc_a / inc_b:.2f}x",
            f"{a['proxy']} | {b['proxy']}",
        )
    console.print(t)
    return 0 if all(r[m]["ok"] for r in rows for m in (False, True)) else 1


if __name__ == "__main__":
    sys.exit(main())
