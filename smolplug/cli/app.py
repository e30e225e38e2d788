"""Command line: ``smolplug demo``, ``bench jpeg``, ``renditions``, ``calibrate``, ``plan``,
``profile``, ``adapters``, ``plugins``, ``info``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console


def _load_dir(path: Path) -> list[tuple[str, bytes]]:
    from ..frames.readers import list_jpeg_files

    return [(p.name, p.read_bytes()) for p in list_jpeg_files(path)]


def cmd_bench_jpeg(args: argparse.Namespace, console: Console) -> int:
    from ..bench import jpeg as bench
    from ..jpeg.samples import sample_jpegs

    sets: list[tuple[str, list[tuple[str, bytes]]]] = []
    for d in args.images or []:
        p = Path(d)
        if not p.is_dir():
            console.print(f"[red]not a directory: {p}[/red]")
            return 2
        imgs = _load_dir(p)
        if not imgs:
            console.print(f"[red]no JPEG files in {p}[/red]")
            return 2
        sets.append((p.name, imgs))
    if not sets:
        console.print("[dim]no --images given: using the built-in generated sample set[/dim]")
        sets.append(("generated samples", sample_jpegs()))
    results = []
    with console.status("benchmarking") as status:
        for name, imgs in sets:
            results.append(
                bench.run(
                    name,
                    imgs,
                    repeats=args.repeats,
                    max_threads=args.threads,
                    progress=lambda s, name=name: status.update(f"{name}: {s}"),
                )
            )
    for table in bench.render(results):
        console.print(table)
    for r in results:
        s = bench.summary(r)
        parts = [f"vs best peer {s['vs_best_peer']:.2f}x"]
        if "vs_floor" in s:
            parts.append(f"vs bare scaled decode {s['vs_floor']:.2f}x")
        if "2_threads_vs_1" in s:
            parts.append(f"2 threads / 1 thread {s['2_threads_vs_1']:.2f}x")
        console.print(f"[bold]{r.dataset}[/bold]: smolplug one core " + ", ".join(parts))
    return 0


def cmd_renditions_make(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import Progress

    from ..errors import SmolplugError
    from ..video.renditions import make_renditions

    try:
        heights = [int(h) for h in args.heights.split(",") if h.strip()]
    except ValueError:
        console.print(f"[red]--heights must be comma-separated integers, got {args.heights!r}[/red]")
        return 2
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"encoding {args.video}", total=None)
        try:
            rends = make_renditions(
                args.video,
                heights,
                args.out_dir,
                crf=args.crf,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                beside_source=args.beside_source,
            )
        except (SmolplugError, OSError) as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    for r in rends:
        console.print(f"{r.width}x{r.height}: {r.path}")
    return 0


def cmd_plugins(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..plugins.manager import AUTOLOAD_ENV, autoload_enabled, describe_plugins, get_plugin_manager

    pm = get_plugin_manager()
    t = Table(
        title=f"smolplug plugins (entry-point autoload: {'on' if autoload_enabled() else 'off'}, "
        f"{AUTOLOAD_ENV})"
    )
    for col in ("name", "origin", "hooks", "where"):
        t.add_column(col, overflow="fold")
    for row in describe_plugins(pm):
        t.add_row(row["name"], row["origin"], ", ".join(row["hooks"]), str(row["where"]))
    console.print(t)
    return 0


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    from .. import __version__
    from ..jpeg.decode import backend, default_threads, native_error

    console.print(f"smolplug {__version__}")
    console.print(f"JPEG backend: {backend()}" + (f" ({native_error()})" if native_error() else ""))
    console.print(f"default threads: {default_threads()}")
    return 0


def cmd_adapters(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from .. import adapters

    if args.install_autoload:
        console.print(f"installed {adapters.install_autoload()}")
    table = Table(title="host adapters (entry-point group smolplug.adapters)")
    for col in ("name", "host module", "state", "what it does"):
        table.add_column(col)
    for name, target in sorted(adapters.available().items()):
        try:
            a = adapters.get(name)
            state = "active" if a.active else "enabled (waiting for import)" if a.enabled else "off"
            table.add_row(name, a.target, state, a.description)
        except Exception as e:  # a broken third-party adapter is listed, not fatal
            table.add_row(name, target, f"[red]broken: {e}[/red]", "")
    console.print(table)
    pth = adapters.autoload_path()
    console.print(
        f"SMOLPLUG=1 start-up hook: {pth} {'present' if pth.exists() else '[red]missing[/red]'}"
        + ("" if pth.exists() else " (run: smolplug adapters --install-autoload)")
    )
    return 0


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from .demo import DemoError, run_demo

    queries = tuple(q.strip() for q in args.queries.split(",") if q.strip())
    inputs = ("hd",) if args.hd else ("native",) if args.native else ("native", "hd")
    try:
        runs = run_demo(console, args.video, inputs, renditions=not args.no_renditions, queries=queries)
    except DemoError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    return 0 if all(r.meets_target for r in runs) else 1


def _write_png(console: Console, write: Any, path: str) -> None:
    """Call ``write(Path(path))`` for a chart (creating its folder); say so when matplotlib is
    missing or the file cannot be written."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        console.print(f"wrote {write(Path(path))}")
    except ImportError:
        console.print("[yellow]matplotlib is not installed: no PNG (pip install matplotlib)[/yellow]")
    except OSError as e:
        console.print(f"[red]cannot write {path}: {e}[/red]")


def _load_models(console: Console, specs: Sequence[str]) -> list[tuple[str, Any]] | None:
    """``[NAME=]module:attr`` options -> models; None (after saying why) when one cannot load."""
    from ..plan.calibrate import load_model

    try:
        return [load_model(m) for m in specs]
    except (ValueError, ImportError, AttributeError) as e:
        console.print(f"[red]{e}[/red]")
        return None


def cmd_calibrate(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..plan import calibrate as cal

    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    sources = [*(args.images or []), *(args.video or [])] or [cal.sample_folder()]
    for s in sources:
        if not Path(s).exists():
            console.print(f"[red]{s} not found[/red]")
            return 2
    models = _load_models(console, args.model or [])
    if models is None:
        return 2
    profile = cal.Profile.load()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with console.status("calibrating") as status:
        rows = cal.calibrate(
            profile,
            sources,
            ints(args.sizes),
            ints(args.threads),
            modes=modes,
            models=models,
            batch_size=args.batch,
            seconds=args.seconds,
            force=args.force,
            progress=lambda what: status.update(f"measuring {what}"),
        )
    path = profile.save()
    table = Table(
        title=f"calibration profile {profile.key} ({profile.env['cpu']}, {profile.env['cores']} cores)"
    )
    for col, just in (("entry", "left"), ("threads", "right"), ("items/s", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for entry, t, rate in rows:
        table.add_row(entry, str(t), f"{rate:,.0f}")
    console.print(table)
    console.print(f"saved {path}")
    return 0


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..bench import stages as sp
    from ..plan.calibrate import sample_folder
    from ..request.spec import FrameSpec

    source = Path(args.source) if args.source else sample_folder()
    if not source.exists():
        console.print(f"[red]{source} not found[/red]")
        return 2
    executor = None
    if args.model:
        loaded = _load_models(console, [args.model])
        if loaded is None:
            return 2
        model = loaded[0][1]
        from ..api import make_executor
        from ..errors import PluginError

        try:
            executor = make_executor(model, args.device, threads=args.dnn_threads)
        except PluginError as e:  # e.g. --device cuda without a GPU
            console.print(f"[red]{e}[/red]")
            return 2
    spec = FrameSpec.imagenet(args.size, round(args.size * 256 / 224))
    threads = args.threads
    if threads is None and executor is not None:  # split the cores: the model's, and the rest for decoding
        from ..jpeg.decode import default_threads

        threads = max(1, default_threads() - args.dnn_threads)
    try:
        frames = sp.frames_available(source, args.frames)
    except (OSError, ValueError) as e:  # a file PyAV cannot open, a video without frames (SmolplugError too)
        console.print(f"[red]{source}: not a readable video: {e}[/red]")
        return 2
    if frames == 0:
        console.print(f"[red]{source}: no frames to profile[/red]")
        return 2
    if frames < args.frames:
        console.print(
            f"[yellow]{source.name} has {frames} frames: profiling {frames}, not {args.frames}[/yellow]"
        )
    with console.status("profiling: warm-up, then plugin off and on"):
        result = sp.compare(source, spec, frames, executor, args.batch, threads)
    off, on = result.off, result.on
    table = Table(
        title=f"{source.name}: {off.frames} frames -> {args.size}x{args.size} normalised (ms per frame)"
    )
    table.add_column("stage")
    table.add_column("plugin off", justify="right")
    table.add_column("plugin on", justify="right")
    for name in dict.fromkeys([*sp.OFF_STAGES, *sp.ON_STAGES]):
        a, b = off.ms_per_frame().get(name), on.ms_per_frame().get(name)
        if a is None and b is None:
            continue
        table.add_row(name, "" if a is None else f"{a:.2f}", "" if b is None else f"{b:.2f}")
    table.add_row(
        "[bold]wall[/bold]", f"{1e3 * off.wall / off.frames:.2f}", f"{1e3 * on.wall / on.frames:.2f}"
    )
    table.add_row("frames/s", f"{off.fps:.0f}", f"{on.fps:.0f}")
    console.print(table)
    console.print(f"speedup {result.speedup:.1f}x end to end (both sides warm)")
    console.print(
        "warm-up, before timing and not in the table: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result.warmup.items())
    )
    if args.png:
        _write_png(console, lambda path: sp.write_png([off, on], path, table.title or ""), args.png)
    return 0


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..jpeg.decode import default_threads
    from ..plan import planning
    from ..plan.calibrate import Profile
    from ..plan.costmodel import PlanError

    source = Path(args.source)
    try:
        planning.sample_of(source, 1)  # the one definition of what plan accepts
    except FileNotFoundError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    models = _load_models(console, args.model)
    if models is None:
        return 2
    cores = args.cores or default_threads()
    profile = Profile.load()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with console.status("measuring") as status:
        plans = planning.build_plans(
            source,
            models,
            sizes,
            modes,
            profile,
            cores=cores,
            seconds=args.seconds,
            sample=args.sample,
            progress=lambda what: status.update(f"measuring {what}"),
        )
    profile.save()
    try:
        rep = planning.report(plans, args.target, cores)
    except PlanError as e:
        console.print(f"[red]{e}[/red]")
        return 1
    est = rep.choice.estimates
    frontier = {p.name for p, _ in rep.choice.frontier}
    naive = rep.dnn_only.plan.name if rep.dnn_only else None
    table = Table(title=f"{source.name}: plans at accuracy >= {args.target:g}, {cores} cores")
    for col in ("plan", "accuracy", "pipelined frames/s", "bottleneck (core split)", "DNN-only frames/s", ""):
        table.add_column(col)
    for p in sorted(plans, key=lambda p: -est[p.name].throughput):
        e = est[p.name]
        marks = []
        if p.name == rep.choice.plan.name:
            marks.append("[green]chosen[/green]")
        if p.name == naive:
            marks.append("[yellow]DNN-only choice[/yellow]")
        if p.name in frontier:
            marks.append("frontier")
        split = ", ".join(f"{k} {v}" for k, v in e.split.items())
        table.add_row(
            p.name,
            f"{p.accuracy:.3f}",
            f"{e.throughput:,.0f}",
            f"{e.bottleneck} ({split})",
            f"{p.stages[-1].rate(cores):,.0f}",
            " · ".join(marks),
        )
    console.print(table)
    if args.png:
        _write_png(console, lambda path: planning.write_png(rep, path, table.title or ""), args.png)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smolplug", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="side-by-side benchmarks")
    bsub = bench.add_subparsers(dest="what", required=True)
    bj = bsub.add_parser("jpeg", help="JPEG -> 224x224 normalised batch, smolplug vs peers")
    bj.add_argument(
        "--images",
        action="append",
        metavar="DIR",
        help="directory of JPEGs (repeatable); default: generated samples",
    )
    bj.add_argument("--repeats", type=int, default=5, help="timed passes per pipeline (best is kept)")
    bj.add_argument("--threads", type=int, default=None, help="max smolplug threads (default: all cores)")
    bj.set_defaults(func=cmd_bench_jpeg)
    rend = sub.add_parser("renditions", help="low-resolution renditions of videos")
    rsub = rend.add_subparsers(dest="what", required=True)
    rm = rsub.add_parser("make", help="encode renditions (same frames, timestamps and keyframes) + manifest")
    rm.add_argument("video")
    rm.add_argument("--heights", default="360,180", help="comma-separated heights (default 360,180)")
    rm.add_argument(
        "--out-dir",
        default=None,
        help="where the videos go (default: the cache directory, keyed by the video)",
    )
    rm.add_argument(
        "--beside-source",
        action="store_true",
        help="write VIDEO.renditions/ and VIDEO.renditions.json next to the video instead of the cache",
    )
    rm.add_argument("--crf", type=int, default=20)
    rm.set_defaults(func=cmd_renditions_make)
    sub.add_parser("plugins", help="list registered plugins and their hooks").set_defaults(func=cmd_plugins)
    sub.add_parser("info", help="backend, versions, threads").set_defaults(func=cmd_info)
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
    cal = sub.add_parser("calibrate", help="measure preprocessing and DNN throughput on this machine")
    cal.add_argument("--images", action="append", help="JPEG folder (repeatable; default: built-in samples)")
    cal.add_argument("--video", action="append", help="video file (repeatable)")
    cal.add_argument("--sizes", default="224,112,56", help="output sizes (square), comma list")
    cal.add_argument("--threads", default="1,2", help="decoding / DNN threads, comma list")
    cal.add_argument("--modes", default="full,reduced", help="decode modes: full, reduced (DCT/renditions)")
    cal.add_argument("--model", action="append", help="NAME=module:attr (a model, or a factory making one)")
    cal.add_argument("--batch", type=int, default=64, help="DNN batch size")
    cal.add_argument("--seconds", type=float, default=0.6, help="time per measurement")
    cal.add_argument("--force", action="store_true", help="measure again what the profile already has")
    cal.set_defaults(func=cmd_calibrate)
    pr = sub.add_parser("profile", help="per-stage time of an input pipeline, plugin off vs on (+ PNG)")
    pr.add_argument("source", nargs="?", help="JPEG folder or video (default: built-in sample JPEGs)")
    pr.add_argument("--frames", type=int, default=120, help="frames to run")
    pr.add_argument("--size", type=int, default=224, help="model input size")
    pr.add_argument("--model", help="NAME=module:attr (a model, or a factory making one); default: none")
    pr.add_argument("--batch", type=int, default=16)
    pr.add_argument(
        "--threads", type=int, help="smolplug decoding threads (default: the cores the model does not use)"
    )
    pr.add_argument("--dnn-threads", type=int, default=1)
    pr.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda, cuda:N, auto")
    pr.add_argument("--png", help="write the stacked-bar chart here")
    pr.set_defaults(func=cmd_profile)
    pl = sub.add_parser("plan", help="candidate plans, their Pareto frontier and the fastest at a target")
    pl.add_argument(
        "source",
        help="folder of JPEGs (labels from names like x_<class>.jpg, else agreement) or a video "
        "(agreement with the first model at the largest size, full decoding)",
    )
    pl.add_argument("--sample", type=int, default=200, help="video frames the accuracy is measured on")
    pl.add_argument("--model", action="append", required=True, help="[NAME=]module:attr, repeatable")
    pl.add_argument("--sizes", default="224,160,112", help="input sizes, comma list")
    pl.add_argument("--modes", default="full,reduced", help="decode modes: full, reduced")
    pl.add_argument("--target", type=float, default=0.8, help="minimum accuracy")
    pl.add_argument("--cores", type=int, help="cores for the pipeline (default: all usable)")
    pl.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    pl.add_argument("--png", help="write the accuracy-vs-throughput plot here")
    pl.set_defaults(func=cmd_plan)
    ad = sub.add_parser("adapters", help="list host adapters (SMOLPLUG=1 enables them)")
    ad.add_argument(
        "--install-autoload", action="store_true", help="put the SMOLPLUG=1 start-up hook into site-packages"
    )
    ad.set_defaults(func=cmd_adapters)
    return p


def make_console() -> Console:
    """Rich console; piped output gets a wide page instead of rich's 80-column default."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args, make_console()))


if __name__ == "__main__":
    sys.exit(main())
