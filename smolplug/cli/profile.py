"""``smolplug profile``: per-stage time of an input pipeline, plugin off vs on, and its chart."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ._common import _load_models, _write_png


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    if args.pipeline:
        return profile_pipeline(args, console)
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


def profile_pipeline(args: argparse.Namespace, console: Console) -> int:
    """Two models on a video: HOG people detector -> ``--model`` on every person (default
    EfficientNet-Lite0), through :class:`~smolplug.twostage.TwoStagePipeline`."""
    from rich.table import Table

    from ..api import make_executor
    from ..errors import PluginError, SmolplugError
    from ..plan.zoo import input_fields
    from ..request.selection import FrameSelection
    from ..request.spec import FrameSpec
    from ..twostage import HOGPeopleDetector, TwoStagePipeline
    from ..twostage.results import plot_stages

    if not args.source or not Path(args.source).is_file():
        console.print("[red]--pipeline needs a video file as SOURCE[/red]")
        return 2
    loaded = _load_models(console, [args.model or "smolplug.plan.zoo:efficientnet_lite0"])
    if loaded is None:
        return 2
    model = loaded[0][1]
    try:
        executor = make_executor(model, args.device, threads=args.dnn_threads)
        detector = HOGPeopleDetector(threads=1)
    except (PluginError, ImportError) as e:
        console.print(f"[red]{e}[/red]")
        return 2
    spec = FrameSpec(args.size, args.size, **input_fields(model))
    frames = FrameSelection.indices(range(args.frames))
    try:
        with console.status("warm-up, then the pipeline"):
            executor.run(__import__("numpy").zeros(spec.batch_shape(1), "float32"))
            with TwoStagePipeline.open(
                args.source,
                detector,
                executor,
                spec,
                frames=frames,
                max_batch=args.batch,
                max_wait_ms=args.max_wait_ms,
                detector_workers=args.detector_workers,
            ) as pipe:
                out = pipe.run()
    except (SmolplugError, OSError) as e:
        console.print(f"[red]{args.source}: {e}[/red]")
        return 2
    st = pipe.stats
    missing = sum(not o.status.ok for o in out)
    table = Table(title=f"{Path(args.source).name}: {st.frames} frames, {st.crops} crops, ms per frame")
    table.add_column("stage")
    table.add_column("ms", justify="right")
    for k, v in st.per_frame_ms().items():
        table.add_row(k, f"{v:.2f}")
    table.add_row("[bold]wall[/bold]", f"{1e3 * st.wall / max(st.frames, 1):.2f}")
    console.print(table)
    console.print(
        f"{st.fps:.2f} frames/s; latency p50 {st.latency_ms(50):.0f} ms, p95 {st.latency_ms(95):.0f} ms; "
        f"mean batch {st.mean_batch:.1f} (max {args.batch}); {args.detector_workers} detector worker(s); "
        f"{missing} frame(s) not decoded (reported, not dropped)"
    )
    if args.png:
        _write_png(console, lambda path: plot_stages(st, path, Path(args.source).name), args.png)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    pr.add_argument(
        "--pipeline",
        action="store_true",
        help="two models on a video: HOG people detector, then --model (default EfficientNet-Lite0) "
        "on every person; --batch is the broker's largest batch",
    )
    pr.add_argument("--max-wait-ms", type=float, default=50.0, help="--pipeline: broker wait for a batch")
    pr.add_argument("--detector-workers", type=int, default=2, help="--pipeline: detector threads")
    pr.set_defaults(func=cmd_profile)
