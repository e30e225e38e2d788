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
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.workload import DEFAULT_VIDEO, prepare_video  # noqa: E402
from smolplug.adapters import get  # noqa: E402
from smolplug.cli import make_console  # noqa: E402
from smolplug.compat import VideoReader  # noqa: E402

Peer = Callable[[Path, int], list[np.ndarray]]


def supervision_frames(plugin: bool) -> Peer | None:
    try:
        import supervision as sv
    except ImportError:
        return None

    def run(path: Path, stride: int) -> list[np.ndarray]:
        a = get("supervision")
        a.enable() if plugin else a.disable()
        try:
            return list(sv.get_video_frames_generator(str(path), stride=stride))
        finally:
            a.disable()

    return run


def ultralytics_frames(plugin: bool) -> Peer | None:
    try:
        from ultralytics.data.loaders import LoadImagesAndVideos  # noqa: F401
    except ImportError:
        return None

    def run(path: Path, stride: int) -> list[np.ndarray]:
        a = get("ultralytics")
        a.enable() if plugin else a.disable()
        try:
            from ultralytics.data import loaders

            out = []
            for _paths, images, _info in loaders.LoadImagesAndVideos(str(path), batch=1, vid_stride=stride):
                out.extend(images)
            return out
        finally:
            a.disable()

    return run


def decord_frames(path: Path, stride: int) -> list[np.ndarray]:
    import decord

    vr = decord.VideoReader(str(path))
    if stride == 1:
        return [vr[i].asnumpy() for i in range(len(vr))]
    return list(vr.get_batch(list(range(0, len(vr), stride))).asnumpy())


def compat_decord_frames(path: Path, stride: int) -> list[np.ndarray]:
    vr = VideoReader(path)
    try:
        if stride == 1:
            return [vr[i].asnumpy() for i in range(len(vr))]
        return list(vr.get_batch(list(range(0, len(vr), stride))).asnumpy())
    finally:
        vr.close()


def torchcodec_frames() -> Peer | None:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception:  # not installed, or its FFmpeg libraries are missing
        return None

    def run(path: Path, stride: int) -> list[np.ndarray]:
        d = VideoDecoder(str(path))
        n = d.metadata.num_frames
        frames = d.get_frames_at(list(range(0, n, stride))).data
        return list(frames.permute(0, 2, 3, 1).numpy())

    return run


def hosts() -> list[tuple[str, Peer | None, Peer | None, str]]:
    """(host, its own loader, the same with smolplug, what the frames are)."""
    return [
        ("supervision", supervision_frames(False), supervision_frames(True), "BGR, as OpenCV"),
        ("ultralytics", ultralytics_frames(False), ultralytics_frames(True), "BGR, as OpenCV"),
        ("decord", decord_frames, compat_decord_frames, "RGB"),
        ("torchcodec", torchcodec_frames(), compat_decord_frames, "RGB"),
    ]


def timed(fn: Peer, path: Path, stride: int) -> tuple[float, list[np.ndarray]]:
    t = time.perf_counter()
    out = fn(path, stride)
    return time.perf_counter() - t, out


def agree(a: list[np.ndarray], b: list[np.ndarray]) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} frames"
    worst = max((int(np.abs(x.astype(np.int16) - y).max()) for x, y in zip(a, b, strict=True)), default=0)
    return "identical" if worst == 0 else f"max |diff| {worst}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--video", type=Path, action="append", help="default: 1080p transcode, bikes.mp4, vtest.avi"
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strides", default="30,1")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    videos = args.video or [
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
                _, a = timed(own, video, stride)  # warm-up, and the frames to compare
                _, b = timed(ours, video, stride)
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
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
