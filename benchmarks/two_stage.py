"""Two models per frame: OpenCV's HOG people detector, then EfficientNet-Lite0 on every person.

Side by side in one process, on the same frames of vtest.avi:

- **naive loop** (how such a service is first written): read a frame with OpenCV, detect, and
  for each box crop it with Pillow (``Image.resize(box=...)``, bilinear with antialiasing, the
  torchvision convention), normalise, and classify it alone (batch 1);
- **smolplug** :class:`~smolplug.twostage.TwoStagePipeline`: frames decoded by smolplug, detector
  worker(s), every box cropped/resized/normalised in one native pass from the decoded frame, the
  broker batching crops across frames, the same classifier on the batch.

Both run the same detector (one OpenCV thread) and the same classifier session (onnxruntime, one
thread): on 2 cores the pipeline can at most double the loop's rate. Checked before timing: the
same boxes, and the top-1 class of every crop (agreement reported, with the logit margin of any
disagreement: the two resamplers differ by at most one level). Also measured: the classifier's
throughput at the broker's batch size vs batch 1, each stage's share of a frame's latency (the
preprocessing share next to DAC'24's "up to 56%"), and a run of the whole video released at 10x
its frame rate (a source faster than the pipeline): queue sizes, frames in flight and RSS.

    .venv/bin/python benchmarks/two_stage.py [--frames 300] [--json out.json] [--png stages.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smolplug.cli import make_console  # noqa: E402

DAC24_PREPROCESSING_SHARE = 0.56  # "Beyond Inference" (DAC'24): up to 56% of end-to-end latency


def setup(threads: int = 1) -> tuple[Any, Any, Any]:
    from smolplug import FrameSpec
    from smolplug.execute.onnx import ONNXRuntimeExecutor
    from smolplug.plan.zoo import efficientnet_lite0, input_fields
    from smolplug.twostage import HOGPeopleDetector

    model = efficientnet_lite0()
    spec = FrameSpec(224, 224, **input_fields(model))
    executor = ONNXRuntimeExecutor(model, threads=threads)
    for n in (1, 8):  # export and load the session before anything is timed
        executor.run(np.zeros(spec.batch_shape(n), np.float32))
    return HOGPeopleDetector(threads=1), executor, spec


def naive_loop(
    video: Path, n: int, detector: Any, executor: Any, spec: Any, same_crops: bool = False
) -> tuple[float, list]:
    """The loop; ``same_crops``: each box cropped by smolplug's native pass instead of Pillow (still
    one box at a time, batch 1): isolates what batching and the pipeline change."""
    import cv2
    from PIL import Image

    from smolplug.twostage import CropPreprocessor

    native = CropPreprocessor(spec)
    clip = native.clip
    scale, bias = (np.asarray(v, np.float32).reshape(1, 1, 3) for v in spec.affine())
    cap = cv2.VideoCapture(str(video))
    out = []
    stages = dict.fromkeys(("decode", "detect", "crop + preprocess", "second model"), 0.0)
    t = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        ok, frame = cap.read()
        if not ok:
            break
        t1 = time.perf_counter()
        boxes = detector(frame)
        t2 = time.perf_counter()
        stages["decode"] += t1 - t0
        stages["detect"] += t2 - t1
        clipped, keep = clip(boxes[:, :4], frame.shape[1], frame.shape[0])
        rgb = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        logits = []
        for x, y, w, h in clipped[keep]:
            t3 = time.perf_counter()
            if same_crops:
                x_in = native(frame, np.array([[x, y, w, h]]))
            else:
                crop = rgb.resize((spec.width, spec.height), Image.BILINEAR, box=(x, y, x + w, y + h))
                x_in = (np.asarray(crop, np.float32) * scale + bias).transpose(2, 0, 1)[None]
            t4 = time.perf_counter()
            logits.append(executor.run(np.ascontiguousarray(x_in))[0])
            stages["crop + preprocess"] += t4 - t3
            stages["second model"] += time.perf_counter() - t4
        boxes = np.concatenate([clipped.astype(np.float32), boxes[:, 4:]], axis=1)
        out.append((i, boxes, np.asarray(logits)))
    naive_stages.clear()
    naive_stages.update({k: 1e3 * v / max(len(out), 1) for k, v in stages.items()})
    return time.perf_counter() - t, out


naive_stages: dict[str, float] = {}  #: ms per frame per stage of the last naive_loop run


def pipeline_run(video: Path, n: int, detector: Any, executor: Any, spec: Any, **kw: Any) -> tuple[Any, list]:
    from smolplug.request.selection import FrameSelection
    from smolplug.twostage import TwoStagePipeline

    frames = FrameSelection.indices(range(n)) if n else None
    with TwoStagePipeline.open(video, detector, executor, spec, frames=frames, **kw) as pipe:
        out = pipe.run()
    return pipe.stats, out


def compare(naive: list, piped: list) -> dict[str, Any]:
    same_boxes = len(naive) == len(piped) and all(
        a[0] == b.index and np.array_equal(a[1], b.boxes) for a, b in zip(naive, piped, strict=True)
    )
    crops = agree = 0
    margins = []
    for a, b in zip(naive, piped, strict=True):
        if not len(a[2]):
            continue
        ta, tb = a[2].argmax(1), b.top1
        crops += len(ta)
        agree += int((ta == tb).sum())
        for k in np.flatnonzero(ta != tb):
            s = np.sort(a[2][k])[::-1]
            margins.append(float(s[0] - s[1]))
    return {"same_boxes": same_boxes, "crops": crops, "top1_agree": agree, "disagree_margins": margins}


def batch_effect(executor: Any, spec: Any, batch: int, repeats: int = 20) -> dict[str, float]:
    x1 = np.random.default_rng(0).standard_normal(spec.batch_shape(1)).astype(np.float32)
    xb = np.repeat(x1, batch, axis=0)
    rates = {}
    for name, x in (("batch 1", x1), (f"batch {batch}", xb)):
        executor.run(x)
        t = time.perf_counter()
        for _ in range(repeats):
            executor.run(x)
        rates[name] = repeats * len(x) / (time.perf_counter() - t)
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=ROOT.parent / "shared" / "data" / "video" / "vtest.avi")
    ap.add_argument("--frames", type=int, default=300, help="frames for the loop vs pipeline runs")
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--max-wait-ms", type=float, default=50.0)
    ap.add_argument("--workers", default="1,2", help="detector worker counts to try")
    ap.add_argument("--overload", type=float, default=10.0, help="x the video's frame rate (0: skip)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    if not args.video.exists():
        console.print(f"[red]{args.video} not found[/red]")
        return 2
    detector, executor, spec = setup()
    report: dict[str, Any] = {"video": args.video.name, "frames": args.frames}
    with console.status("the loop, cropping as the pipeline does (not timed)"):
        _, same_crops = naive_loop(args.video, args.frames, detector, executor, spec, same_crops=True)
    with console.status("naive loop"):
        t_naive, naive = naive_loop(args.video, args.frames, detector, executor, spec)
    fps_naive = len(naive) / t_naive
    table = Table(title=f"{args.video.name}: {len(naive)} frames, HOG -> EfficientNet-Lite0 per person")
    for col in (
        "run",
        "frames/s",
        "vs loop",
        "crops",
        "mean batch",
        "p50 ms",
        "p95 ms",
        "boxes",
        "top-1 = loop's",
        "top-1 = loop's, same crops",
    ):
        table.add_column(col)
    table.add_row("naive loop", f"{fps_naive:.2f}", "1.00x", "", "1", "", "", "", "", "")
    report["naive"] = {"seconds": t_naive, "fps": fps_naive}
    runs = []
    for w in (int(x) for x in args.workers.split(",")):
        with console.status(f"pipeline, {w} detector worker(s)"):
            stats, piped = pipeline_run(
                args.video,
                args.frames,
                detector,
                executor,
                spec,
                max_batch=args.max_batch,
                max_wait_ms=args.max_wait_ms,
                detector_workers=w,
            )
        c = compare(naive, piped)
        c2 = compare(same_crops, piped)
        c["same_crops"] = {k: c2[k] for k in ("same_boxes", "crops", "top1_agree")}
        runs.append((w, stats, c))
        table.add_row(
            f"smolplug, {w} detector worker(s)",
            f"{stats.fps:.2f}",
            f"[bold]{stats.fps / fps_naive:.2f}x[/bold]",
            str(stats.crops),
            f"{stats.mean_batch:.1f}",
            f"{stats.latency_ms(50):.0f}",
            f"{stats.latency_ms(95):.0f}",
            "identical" if c["same_boxes"] else "[red]differ[/red]",
            f"{c['top1_agree']}/{c['crops']}",
            f"{c2['top1_agree']}/{c2['crops']}",
        )
        report[f"pipeline_{w}"] = {**stats.as_dict(), **c, "speedup": stats.fps / fps_naive}
    console.print(table)
    w, best, c = max(runs, key=lambda r: r[1].fps)
    if c["disagree_margins"]:
        console.print(
            f"top-1 disagreements: {len(c['disagree_margins'])}, logit margins of the loop's top-1 there: "
            + ", ".join(f"{m:.3f}" for m in c["disagree_margins"][:10])
        )
    per = best.per_frame_ms()
    shares = Table(title="where a frame's time goes, ms per frame")
    shares.add_column("stage")
    shares.add_column("naive loop (one thread, in turn)", justify="right")
    shares.add_column("share", justify="right")
    shares.add_column(f"smolplug, {w} worker(s): wall in the stage's calls", justify="right")
    total = sum(naive_stages.values())
    for k, v in per.items():
        a = naive_stages.get(k)
        share = "" if a is None else f"{a / total:.0%}"
        shares.add_row(k, "" if a is None else f"{a:.2f}", share, f"{v:.2f}")
    console.print(shares)
    console.print(
        "(the pipeline's stages run in threads sharing 2 cores: their wall time includes waiting for a "
        "core; the broker wait is per crop, from entering the broker to its batch starting)"
    )
    pre = (naive_stages["decode"] + naive_stages["crop + preprocess"]) / total
    console.print(
        f"preprocessing (decode + crop/resize/normalise) {pre:.0%} of a frame's latency in the loop; "
        f"DAC'24 reports up to {DAC24_PREPROCESSING_SHARE:.0%} on its server pipelines"
    )
    rates = batch_effect(executor, spec, args.max_batch)
    names = list(rates)
    console.print(
        f"classifier alone (onnxruntime, 1 thread): {rates[names[0]]:.1f} crops/s at batch 1, "
        f"{rates[names[1]]:.1f} at {names[1]} ({rates[names[1]] / rates[names[0]]:.2f}x); "
        "no GPU here: the GPU figure needs a lent machine"
    )
    report.update(
        preprocessing_share=pre, per_frame_ms=per, naive_per_frame_ms=naive_stages, classifier_rates=rates
    )
    if args.overload:
        import av

        with av.open(str(args.video)) as cnt:
            rate = float(cnt.streams.video[0].average_rate or 25)
        with console.status(f"whole video at {args.overload:g}x its frame rate"):
            stats, out = pipeline_run(
                args.video,
                0,
                detector,
                executor,
                spec,
                max_batch=args.max_batch,
                max_wait_ms=args.max_wait_ms,
                detector_workers=w,
                pace_fps=rate * args.overload,
                monitor_interval=0.5,
            )
        s = stats.samples
        rss = [x["rss_mb"] for x in s]
        console.print(
            f"overload: {len(out)} frames released at {rate * args.overload:g} frames/s, processed at "
            f"{stats.fps:.2f} frames/s; source held back {stats.source_blocked:.0f} s; "
            f"max queued frames {max(x['detect_q'] for x in s)}, max broker inbox "
            f"{max(x['broker_inbox'] for x in s)}, max in flight {max(x['in_flight'] for x in s)}; "
            f"RSS {rss[0]:.0f} MB at start, {max(rss):.0f} MB max, {rss[-1]:.0f} MB at the end "
            f"({len(s)} samples)"
        )
        report["overload"] = {
            "frames": len(out),
            "released_fps": rate * args.overload,
            **stats.as_dict(),
        }
    if args.png:
        from smolplug.twostage.results import plot_stages

        console.print(f"wrote {plot_stages(best, args.png, f'{args.video.name}, HOG -> Lite0')}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
