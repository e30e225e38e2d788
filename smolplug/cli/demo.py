"""``smolplug demo``: the NoScope- and BlazeIt-style queries of the reference engines on a real
street-scene video, plugin off and on, with a table of what each run cost and how accurate it
was. The engines live in the source checkout (``integration_tests/engines``).

By default the video runs twice: as it is (``vtest.avi``: MPEG-4 part 2, every frame a
reference frame, cheap to decode at 576p) and as its 1440x1080 H.264 transcode (what cameras
record: B-frames, expensive full-resolution frames), each table titled with its codec and why
the two differ. Every query also shows its reference-model calls and its time with those calls
charged at the reference model's measured cost, since a query's proxy decides how many it
makes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import SmolplugError

#: the inputs of a default run: the video as it is, and its 1440x1080 H.264 transcode
INPUTS = ("native", "hd")
QUERIES = ("noscope", "aggregate", "limit")
CODEC_NAMES = {
    "msmpeg4": "MPEG-4 part 2 (msmpeg4)",
    "h264": "H.264",
    "hevc": "H.265",
    "mpeg4": "MPEG-4 part 2",
}


class DemoError(SmolplugError, RuntimeError):
    pass


def _workload() -> Any:
    try:
        from integration_tests import workload
    except ImportError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "integration_tests" / "engines").is_dir():
            raise DemoError(
                "the demo runs the reference engines of the source checkout (integration_tests/engines); "
                "run it from a clone of the smolplug repository"
            ) from None
        sys.path.insert(0, str(root))
        from integration_tests import workload
    return workload


def speedup_rows(runs: list[Any]) -> list[tuple[Any, Any, float, float]]:
    """(off, on, off/on time, off/on time without the reference calls) per query, in the order
    the queries ran."""
    off = {r.query: r for r in runs if not r.plugin}
    on = {r.query: r for r in runs if r.plugin}
    return [
        (off[q], on[q], off[q].seconds / on[q].seconds, off[q].engine_seconds / on[q].engine_seconds)
        for q in off
        if q in on
    ]


def results_table(runs: list[Any], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col, just in [
        ("query", "left"),
        ("plugin", "left"),
        ("time (s)", "right"),
        ("of which reference: fetch + detector (s)", "right"),
        ("frames decoded", "right"),
        ("pixels decoded (MP)", "right"),
        ("reference calls", "right"),
        ("accuracy vs target", "left"),
        ("speedup", "right"),
        ("speedup without reference", "right"),
    ]:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for off, on, ratio, ratio_engine in speedup_rows(runs):
        for r in (off, on):
            mark = "[green]✓[/green]" if r.meets_target else "[red]✗[/red]"
            t.add_row(
                r.query,
                "on" if r.plugin else "off",
                f"{r.seconds:.2f}",
                f"{r.fetch_seconds:.2f} + {r.detector_seconds:.2f}",
                f"{r.frames_decoded:,}",
                f"{r.pixels_decoded / 1e6:,.0f}",
                f"{r.oracle_calls}",
                f"{mark} {r.accuracy}",
                (f"[bold]{ratio:.2f}x[/bold]" if ratio >= 1 else f"[red]{ratio:.2f}x[/red]")
                if r.plugin
                else "",
                f"{ratio_engine:.1f}x" if r.plugin else "",
            )
    return t


def _ms_per_decoded_frame(runs: Sequence[Any]) -> float | None:
    """Median loading milliseconds per decoded frame over ``runs``."""
    ms = [1e3 * r.stages["load"] / r.frames_decoded for r in runs if r.frames_decoded]
    return statistics.median(ms) if ms else None


def describe_video(ix: Any, runs: Sequence[Any]) -> tuple[str, str]:
    """(title, why): the video's codec and structure, and what decides the plugin's gain on it:
    whether a sampled query can skip frames, and what a decoded frame cost each loader here."""
    gaps = [b - a for a, b in zip(ix.keyframes, ix.keyframes[1:], strict=False)]
    gop = f"a keyframe every {statistics.median(gaps):.0f} frames" if gaps else "one keyframe"
    codec = CODEC_NAMES.get(ix.codec, ix.codec)
    title = f"{Path(ix.path).name}: {codec}, {ix.width}x{ix.height}, {ix.n_frames} frames, {gop}"
    if ix.has_b_frames:
        frames = "B-frames (non-reference frames, skipped when a sample is sparse enough)"
    else:
        frames = (
            "no B-frames: every frame is a reference frame, so reaching a sampled frame decodes all before it"
        )
    off = _ms_per_decoded_frame([r for r in runs if not r.plugin])
    on = _ms_per_decoded_frame([r for r in runs if r.plugin])
    if off is None or on is None:
        return title, frames
    return title, (
        f"{frames}; a frame cost the plugin-off loader {off:.2f} ms at full resolution and the plugin's "
        f"loading {on:.2f} ms ({off / on:.1f}x less): the plugin's gain here is what full-resolution "
        "decoding costs"
    )


def run_demo(
    console: Console,
    video: str | None = None,
    inputs: Sequence[str] = INPUTS,
    renditions: bool = True,
    queries: tuple[str, ...] = QUERIES,
) -> list[Any]:
    """Run ``queries`` plugin off and on for each of ``inputs`` ("native": the video as it is,
    "hd": its 1440x1080 H.264 transcode) and print a table per input; returns every run.

    Raises :class:`DemoError` when the video is missing or the engines cannot run a query on it
    (saying why: unreadable, too short, too few frames with people to train or check a query).
    """
    wl = _workload()
    src = Path(video) if video else wl.DEFAULT_VIDEO
    if not src.is_file():
        raise DemoError(f"{src} not found: pass --video PATH (a street-scene video with pedestrians)")
    unknown = set(queries) - set(QUERIES) or set(inputs) - set(INPUTS)
    if unknown or not queries or not inputs:
        raise DemoError(
            f"queries come from {QUERIES} and inputs from {INPUTS}; got {tuple(queries)}, {tuple(inputs)}"
        )
    try:
        return _run(console, wl, src, inputs, renditions, queries)
    except wl.UnfitVideoError as e:
        raise DemoError(f"the reference engines cannot run the demo on this video: {e}") from e


def _run(
    console: Console, wl: Any, src: Path, inputs: Sequence[str], renditions: bool, queries: tuple[str, ...]
) -> list[Any]:
    from ..video import load_index

    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        labels = wl.labels_for(src, progress=report)
        wl.check_queries(src, labels, queries)  # before any transcode or training: say what is missing
        report("timing the reference model", 0, 1)
        per_call = wl.reference_seconds(src)
        report("timing the reference model", 1, 1)
        works = {
            kind: wl.prepare_video(src, hd=kind == "hd", renditions=renditions, progress=report)
            for kind in inputs
        }
        # one step per engine: the BlazeIt-style queries share one trained proxy
        groups = [g for g in (("noscope",), ("aggregate", "limit")) if set(g) & set(queries)]
        steps = [
            (kind, plugin, tuple(q for q in g if q in queries))
            for kind in inputs
            for plugin in (False, True)
            for g in groups
        ]
        task = progress.add_task("queries (plugin off, on)", total=len(steps))
        runs: dict[str, list[Any]] = {kind: [] for kind in inputs}
        for kind, plugin, qs in steps:
            progress.update(task, description=f"{kind}: {'+'.join(qs)} (plugin {'on' if plugin else 'off'})")
            engine = {"reference": "charge", "reference_seconds": per_call}
            runs[kind] += wl.run_all(works[kind], labels, plugin, qs, engine, reference_seconds=per_call)
            progress.advance(task)
        progress.update(task, description="queries (plugin off, on)")
    console.print(
        f"reference model: {wl.REFERENCE_MODEL}, {per_call * 1e3:.1f} ms per call on this machine "
        "(median of many calls, one thread). Each reference call fetches its frame at full resolution "
        "by random access (plugin off: OpenCV seek + read; on: smolplug's sampled decoding, 16 frames at "
        "a time), then answers from the precomputed labels and is charged that detector time"
    )
    blazeit = next((q for q in ("aggregate", "limit") if q in queries), None)  # its runs name the proxy
    for kind in inputs:
        ix = load_index(works[kind])
        title, why = describe_video(ix, runs[kind])
        console.print()
        console.print(results_table(runs[kind], title + (" (+ renditions)" if renditions else "")))
        console.print(f"[bold]why:[/bold] {why}")
        for r in runs[kind]:
            if r.query == blazeit:
                d = r.details
                console.print(
                    f"BlazeIt-style proxy, plugin {'on' if r.plugin else 'off'}: {d['proxy']} "
                    f"(held-out correlation {d['corr']:.2f}; chosen by the {d['selected_by']})"
                )
    console.print(
        "time = the query (frame loading + the engine's own work + its reference calls); training the "
        "proxies and fitting thresholds is done per run beforehand and not timed."
    )
    return [r for kind in inputs for r in runs[kind]]


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    queries = tuple(q.strip() for q in args.queries.split(",") if q.strip())
    inputs = ("hd",) if args.hd else ("native",) if args.native else ("native", "hd")
    try:
        runs = run_demo(console, args.video, inputs, renditions=not args.no_renditions, queries=queries)
    except DemoError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    return 0 if all(r.meets_target for r in runs) else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="NoScope- and BlazeIt-style queries on a real video and its H.264 transcode, plugin off vs on",
    )
    demo.add_argument("--video", help="video to query (default: ../shared/data/video/vtest.avi)")
    only = demo.add_mutually_exclusive_group()
    only.add_argument(
        "--hd", action="store_true", help="only its 1440x1080 H.264 transcode (default: as it is, then that)"
    )
    only.add_argument("--native", action="store_true", help="only the video as it is (no transcode)")
    demo.add_argument("--no-renditions", action="store_true", help="do not make low-res renditions")
    demo.add_argument("--queries", default="noscope,aggregate,limit", help="comma list (default: all)")
    demo.set_defaults(func=cmd_demo)
