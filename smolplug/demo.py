"""``smolplug demo``: the NoScope- and BlazeIt-style queries of the reference engines on a real
street-scene video, plugin off and on, with a table of what each run cost and how accurate it
was. The engines live in the source checkout (``integration_tests/engines``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import SmolplugError


class DemoError(SmolplugError, RuntimeError):
    pass


def _workload() -> Any:
    try:
        from integration_tests import workload
    except ImportError:
        root = Path(__file__).resolve().parents[1]
        if not (root / "integration_tests" / "engines").is_dir():
            raise DemoError(
                "the demo runs the reference engines of the source checkout (integration_tests/engines); "
                "run it from a clone of the smolplug repository"
            ) from None
        sys.path.insert(0, str(root))
        from integration_tests import workload
    return workload


def speedup_rows(runs: list[Any]) -> list[tuple[Any, Any, float]]:
    """(off, on, off/on time) per query, in the order the queries ran."""
    off = {r.query: r for r in runs if not r.plugin}
    on = {r.query: r for r in runs if r.plugin}
    return [(off[q], on[q], off[q].seconds / on[q].seconds) for q in off if q in on]


def results_table(runs: list[Any], title: str) -> Table:
    t = Table(title=title)
    for col, just in [
        ("query", "left"),
        ("plugin", "left"),
        ("time (s)", "right"),
        ("frames decoded", "right"),
        ("pixels decoded (MP)", "right"),
        ("reference calls", "right"),
        ("accuracy vs target", "left"),
        ("speedup", "right"),
    ]:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for off, on, ratio in speedup_rows(runs):
        for r in (off, on):
            mark = "[green]✓[/green]" if r.meets_target else "[red]✗[/red]"
            t.add_row(
                r.query,
                "on" if r.plugin else "off",
                f"{r.seconds:.2f}",
                f"{r.frames_decoded:,}",
                f"{r.pixels_decoded / 1e6:,.0f}",
                f"{r.oracle_calls}",
                f"{mark} {r.accuracy}",
                f"[bold]{ratio:.1f}x[/bold]" if r.plugin else "",
            )
    return t


def run_demo(
    console: Console,
    video: str | None = None,
    hd: bool = False,
    renditions: bool = True,
    queries: tuple[str, ...] = ("noscope", "aggregate", "limit"),
) -> list[Any]:
    wl = _workload()
    src = Path(video) if video else wl.DEFAULT_VIDEO
    if not src.is_file():
        raise DemoError(f"{src} not found: pass --video PATH (a street-scene video with pedestrians)")
    with Progress(
        TextColumn("{task.description:<28}"),
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
        work = wl.prepare_video(src, hd=hd, renditions=renditions, progress=report)
        runs = []
        # one step per engine: the BlazeIt-style queries share one trained proxy
        groups = [g for g in (("noscope",), ("aggregate", "limit")) if set(g) & set(queries)]
        steps = [(plugin, tuple(q for q in g if q in queries)) for plugin in (False, True) for g in groups]
        task = progress.add_task("queries (plugin off, on)", total=len(steps))
        for plugin, qs in steps:
            progress.update(task, description=f"{'+'.join(qs)} (plugin {'on' if plugin else 'off'})")
            runs += wl.run_all(work, labels, plugin, qs)
            progress.advance(task)
        progress.update(task, description="queries (plugin off, on)")
    from .video import load_index

    ix = load_index(work)
    console.print(
        results_table(
            runs,
            f"{work.name}: {ix.width}x{ix.height} {ix.codec}, {ix.n_frames} frames"
            + (" (+ renditions)" if renditions else ""),
        )
    )
    for r in runs:
        if r.query == "aggregate":
            d = r.details
            console.print(
                f"BlazeIt-style proxy, plugin {'on' if r.plugin else 'off'}: {d['proxy']} "
                f"(held-out correlation {d['corr']:.2f}; chosen by the {d['selected_by']})"
            )
    console.print(
        "time = the query (frame loading + the engine's own work); training the proxies and fitting "
        "thresholds is done per run beforehand and not timed. Reference-model (HOG) calls are looked up "
        "from precomputed labels in both runs and listed separately."
    )
    return runs
