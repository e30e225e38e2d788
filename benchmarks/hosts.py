"""Drop-in readers vs the hosts' own loaders: the same frames, side by side in one process.

Loader only (no model): each peer reads the same frames of the same file and hands them to the
host as the host would; the frames are checked equal, then each peer is timed, peers
interleaved, ``--repeats`` times, median reported, ratio against the host's own loader.

  stride 30 (every 30th frame):
    - supervision ``get_video_frames_generator(path, stride=30)``: its OpenCV capture (read, then
      grab x 29) vs the same call with smolplug's ``supervision`` adapter enabled;
    - Ultralytics ``LoadImagesAndVideos(path, vid_stride=30)`` (when installed: the ``ultralytics``
      extra) vs the same with the ``ultralytics`` adapter;
    - decord ``get_batch(range(0, n, 30))`` vs ``smolplug.compat.VideoReader.get_batch``;
    - torchcodec ``VideoDecoder(path).get_frames_at(...)`` when it is installed and loads.
  stride 1 (every frame, sequential): the same hosts reading every frame.

Inputs: the 1440x1080 H.264 transcode of vtest.avi (2-s GOPs, B-frames; made once, cached),
``../shared/data/video/bikes.mp4`` and vtest.avi (MPEG-4 part 2, no B-frames).

    .venv/bin/python benchmarks/hosts.py [--repeats 5] [--video PATH ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smolplug.adapters import get  # noqa: E402
from smolplug.cli import make_console  # noqa: E402
from smolplug.compat import VideoReader  # noqa: E402

Peer = Callable[[Path, int], Iterator[np.ndarray]]


@contextlib.contextmanager
def adapter(name: str, on: bool) -> Iterator[None]:
    """The host as it is (``on=False``) or with smolplug's adapter, restored afterwards."""
    a = get(name)
    a.enable() if on else a.disable()
    try:
        yield
    finally:
        a.disable()


def supervision_frames(plugin: bool) -> Peer | None:
    try:
        import supervision as sv
    except ImportError:
        return None

    def run(path: Path, stride: int) -> Iterator[np.ndarray]:
        with adapter("supervision", plugin):
            yield from sv.get_video_frames_generator(str(path), stride=stride)

    return run


def ultralytics_frames(plugin: bool) -> Peer | None:
    try:
        from ultralytics.data.loaders import LoadImagesAndVideos  # noqa: F401
    except ImportError:
        return None

    def run(path: Path, stride: int) -> Iterator[np.ndarray]:
        from ultralytics.data import loaders

        with adapter("ultralytics", plugin):
            for _paths, images, _info in loaders.LoadImagesAndVideos(str(path), batch=1, vid_stride=stride):
                yield from images

    return run


def decord_peer() -> Peer | None:
    try:
        import decord  # noqa: F401
    except ImportError:
        return None
    return decord_frames


def decord_style(vr: Any, stride: int) -> Iterator[np.ndarray]:
    """Frames through decord's interface: one by one (stride 1) or one ``get_batch``."""
    if stride == 1:
        yield from (vr[i].asnumpy() for i in range(len(vr)))
    else:
        yield from vr.get_batch(list(range(0, len(vr), stride))).asnumpy()


def decord_frames(path: Path, stride: int) -> Iterator[np.ndarray]:
    import decord

    yield from decord_style(decord.VideoReader(str(path)), stride)


def compat_decord_frames(path: Path, stride: int) -> Iterator[np.ndarray]:
    vr = VideoReader(path)
    try:
        yield from decord_style(vr, stride)
    finally:
        vr.close()


def torchcodec_frames() -> Peer | None:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception:  # not installed, or its FFmpeg libraries are missing
        return None

    def run(path: Path, stride: int) -> Iterator[np.ndarray]:
        d = VideoDecoder(str(path))
        n = d.metadata.num_frames
        if stride == 1:  # its sequential access: frame by frame
            yield from (d[i].permute(1, 2, 0).numpy() for i in range(n))
        else:
            yield from d.get_frames_at(list(range(0, n, stride))).data.permute(0, 2, 3, 1).numpy()

    return run


#: YOLOv8n per image on an A100 with TensorRT, from Ultralytics' published YOLOv8 table (not
#: measured here: no GPU): the model time of the GPU projection
A100_TRT_YOLOV8N_S = 0.99e-3


def ultralytics_end_to_end(video: Path, stride: int, repeats: int, imgsz: int) -> dict | None:
    """YOLOv8n (untrained, from the packaged yolov8n.yaml) predicting on ``video`` at
    ``vid_stride``, adapter off and on, and the loader alone: the loader's share of the time."""
    try:
        import torch
        from ultralytics import YOLO
    except ImportError:
        return None
    torch.manual_seed(0)
    model = YOLO("yolov8n.yaml")
    loader_off, loader_on = ultralytics_frames(False), ultralytics_frames(True)
    assert loader_off is not None and loader_on is not None

    def predict(plugin: bool) -> tuple[float, int]:
        with adapter("ultralytics", plugin):
            t = time.perf_counter()
            n = sum(
                1
                for _ in model.predict(
                    str(video), vid_stride=stride, imgsz=imgsz, device="cpu", verbose=False, stream=True
                )
            )
            return time.perf_counter() - t, n

    predict(False)  # warm-up: model fusing, first allocations
    runs: dict[str, list[float]] = {"total off": [], "total on": [], "loader off": [], "loader on": []}
    n = 0
    for _ in range(repeats):
        dt, n = predict(False)
        runs["total off"].append(dt)
        dt, n = predict(True)
        runs["total on"].append(dt)
        runs["loader off"].append(timed(loader_off, video, stride)[0])
        runs["loader on"].append(timed(loader_on, video, stride)[0])
    m = {k: statistics.median(v) for k, v in runs.items()}
    gpu = n * A100_TRT_YOLOV8N_S
    return {
        "video": video.name,
        "stride": stride,
        "frames": n,
        **m,
        "share off": m["loader off"] / m["total off"],
        "share on": m["loader on"] / m["total on"],
        "speedup": m["total off"] / m["total on"],
        "gpu projection": (m["loader off"] + gpu) / (m["loader on"] + gpu),
    }


def hosts() -> list[tuple[str, Peer | None, Peer | None, str]]:
    """(host, its own loader, the same with smolplug, what the frames are)."""
    return [
        ("supervision", supervision_frames(False), supervision_frames(True), "BGR, as OpenCV"),
        ("ultralytics", ultralytics_frames(False), ultralytics_frames(True), "BGR, as OpenCV"),
        ("decord", decord_peer(), compat_decord_frames, "RGB"),
        ("torchcodec", torchcodec_frames(), compat_decord_frames, "RGB"),
    ]


def timed(fn: Peer, path: Path, stride: int) -> tuple[float, int]:
    """Seconds to take every frame the way a host does (one at a time, nothing kept)."""
    t = time.perf_counter()
    n = sum(1 for _ in fn(path, stride))
    return time.perf_counter() - t, n


def digests(fn: Peer, path: Path, stride: int) -> list[tuple[int, np.ndarray]]:
    """CRC-32 and a 1/64 subsample of every frame: peers are compared without keeping frames."""
    return [(zlib.crc32(np.ascontiguousarray(f)), f[::8, ::8].astype(np.int16)) for f in fn(path, stride)]


def agree(a: list, b: list) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} frames"
    if all(x[0] == y[0] for x, y in zip(a, b, strict=True)):
        return "identical"
    if any(x[1].shape != y[1].shape for x, y in zip(a, b, strict=True)):
        return "sizes differ"
    worst = max(int(np.abs(x[1] - y[1]).max()) for x, y in zip(a, b, strict=True))
    return f"max |diff| {worst} (every 8th pixel)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--video", type=Path, action="append", help="default: 1080p transcode, bikes.mp4, vtest.avi"
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strides", default="30,1")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--e2e", action="store_true", help="also YOLOv8n end to end (Ultralytics installed)")
    ap.add_argument("--imgsz", type=int, default=640)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    if args.video:
        videos = args.video
    else:
        from integration_tests.workload import DEFAULT_VIDEO, prepare_video

        videos = [
            prepare_video(DEFAULT_VIDEO, hd=True, renditions=False),
            DEFAULT_VIDEO.parent / "bikes.mp4",
            DEFAULT_VIDEO,
        ]
    rows = []
    said: set[str] = set()
    table = Table(title=f"loader only: the host's own loader vs smolplug (median of {args.repeats})")
    for col in ("video", "stride", "host", "frames", "host s", "smolplug s", "speedup", "frames agree"):
        table.add_column(col)
    for video in videos:
        if not video.exists():
            console.print(f"[yellow]{video} not found: skipped[/yellow]")
            continue
        for stride in (int(s) for s in args.strides.split(",")):
            for name, own, ours, _ in hosts():
                if own is None or ours is None:
                    if name not in said:
                        said.add(name)
                        console.print(
                            f"[yellow]{name} is not installed (or does not load): left out[/yellow]"
                        )
                    continue
                a = digests(own, video, stride)  # warm-up, and the frames to compare
                b = digests(ours, video, stride)
                t_own, t_ours = [], []
                for _ in range(args.repeats):
                    t_own.append(timed(own, video, stride)[0])
                    t_ours.append(timed(ours, video, stride)[0])
                mo, mu = statistics.median(t_own), statistics.median(t_ours)
                row = {
                    "video": video.name,
                    "stride": stride,
                    "host": name,
                    "frames": len(a),
                    "host_s": mo,
                    "smolplug_s": mu,
                    "speedup": mo / mu,
                    "agree": agree(a, b),
                }
                rows.append(row)
                table.add_row(
                    video.name,
                    str(stride),
                    name,
                    str(len(a)),
                    f"{mo:.3f}",
                    f"{mu:.3f}",
                    f"[bold]{mo / mu:.2f}x[/bold]",
                    row["agree"],
                )
                console.print(
                    f"  {video.name} stride {stride} {name}: {mo:.3f} s vs {mu:.3f} s", highlight=False
                )
    console.print(table)
    e2e = []
    if args.e2e:
        et = Table(
            title=f"Ultralytics end to end: YOLOv8n at {args.imgsz} px on this CPU (median of {args.repeats})"
        )
        for col in (
            "video",
            "stride",
            "frames",
            "off s",
            "on s",
            "speedup",
            "loader share off / on",
            "projected speedup, model on a GPU",
        ):
            et.add_column(col)
        for video in videos:
            for stride in (int(s) for s in args.strides.split(",")):
                r = ultralytics_end_to_end(video, stride, args.repeats, args.imgsz)
                if r is None:
                    console.print("[yellow]Ultralytics is not installed: no end-to-end run[/yellow]")
                    break
                e2e.append(r)
                et.add_row(
                    r["video"],
                    str(stride),
                    str(r["frames"]),
                    f"{r['total off']:.2f}",
                    f"{r['total on']:.2f}",
                    f"{r['speedup']:.2f}x",
                    f"{r['share off']:.0%} / {r['share on']:.0%}",
                    f"{r['gpu projection']:.1f}x (projection)",
                )
        console.print(et)
        console.print(
            "projection: measured loader seconds + frames x 0.99 ms (YOLOv8n, A100, TensorRT: "
            "Ultralytics' published figure, not measured here)"
        )
    if args.json:
        args.json.write_text(json.dumps({"loaders": rows, "end_to_end": e2e}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
