"""Video loader benchmark: smolplug vs the loaders of NoScope/BlazeIt-style engines.

Inputs: ../shared/data/video/vtest.avi (768x576 msmpeg4, 795 frames) and H.264 transcodes of
it made with smolplug's renditions tool (576p, and a 1080p upscale like real traffic cameras),
each with renditions (made once, timed separately). One process, one pinned core, same frames:

  (a) NoScope: every 30th frame -> 50x50 and 100x100
      vs cv2.VideoCapture reading every frame + INTER_NEAREST resizes (NoScope's loader)
  (b) BlazeIt: 1% seeded random frames -> 65x65 normalised
      vs cv2.VideoCapture.set(CAP_PROP_POS_FRAMES) + read per frame (and decord if installed)
  (c) every frame -> 224x224 normalised float32
      vs PyAV to_ndarray(rgb24) + cv2.resize

    .venv/bin/python benchmarks/video_loader.py [--video PATH] [--repeats N] [--skip-1080p]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from smolplug import FrameRequest, FrameSpec  # noqa: E402
from smolplug.bench.jpeg_peers import pinned_to_one_core  # noqa: E402
from smolplug.cli import make_console  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402
from smolplug.request.spec import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from smolplug.video import VideoReader, load_index  # noqa: E402
from smolplug.video.renditions import list_renditions, make_renditions, transcode  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "video" / "vtest.avi"
WORK = ROOT / ".bench" / "video"
MEAN = np.asarray(IMAGENET_MEAN, np.float32) * 255
STD = np.asarray(IMAGENET_STD, np.float32) * 255


def normalise(bgr: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    return ((rgb - MEAN) / STD).transpose(2, 0, 1)


# -- baselines ---------------------------------------------------------------------------------
def noscope_loader(path: Path, k: int = 30) -> int:
    cap = cv2.VideoCapture(str(path))
    i = kept = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % k == 0:
            cv2.resize(frame, (50, 50), interpolation=cv2.INTER_NEAREST)
            cv2.resize(frame, (100, 100), interpolation=cv2.INTER_NEAREST)
            kept += 1
        i += 1
    cap.release()
    return i  # frames decoded


def blazeit_seek_loader(path: Path, frames: np.ndarray) -> int:
    cap = cv2.VideoCapture(str(path))
    for i in frames:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, frame = cap.read()
        if ok:
            normalise(cv2.resize(frame, (65, 65), interpolation=cv2.INTER_AREA))
    cap.release()
    return -1  # OpenCV does not say how many frames it decoded


def decord_loader(path: Path, frames: np.ndarray) -> int:
    import decord

    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    batch = vr.get_batch([int(i) for i in frames]).asnumpy()
    for f in batch:
        normalise(cv2.resize(f[..., ::-1], (65, 65), interpolation=cv2.INTER_AREA))
    return -1


def pyav_loader(path: Path) -> int:
    import av

    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for f in c.decode(s):
            rgb = f.to_ndarray(format="rgb24")
            small = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
            ((small - MEAN) / STD).transpose(2, 0, 1)
            n += 1
    return n


# -- smolplug ----------------------------------------------------------------------------------
def smolplug_run(
    path: Path, spec: FrameSpec, frames: FrameSelection, post: Callable | None = None, headroom: float = 1.0
) -> tuple[int, str]:
    req = FrameRequest(spec, batch_size=64, frames=frames, threads=1, scale_headroom=headroom)
    with VideoReader(path, req) as reader:
        for b in reader:
            if post is not None:
                post(b.data)
        used = f"{reader.rendition.height}p rendition" if reader.rendition else "source"
        return reader.frames_decoded, used


def downscale_50(batch: np.ndarray) -> None:
    for f in batch:
        cv2.resize(f, (50, 50), interpolation=cv2.INTER_AREA)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def prepare(video: Path, skip_1080p: bool, console) -> list[tuple[str, Path]]:
    WORK.mkdir(parents=True, exist_ok=True)
    src = WORK / video.name
    if not src.exists() or src.stat().st_size != video.stat().st_size:
        src.write_bytes(video.read_bytes())
    inputs = [(f"{video.name} (source codec)", src)]
    h = load_index(src).height
    targets = [("H.264 576p", WORK / f"{video.stem}_{h}p_h264.mp4", h)]
    if not skip_1080p:
        targets.append(("H.264 1080p upscale", WORK / f"{video.stem}_1080p_h264.mp4", 1080))
    for label, path, height in targets:
        if not path.exists():
            t = time.perf_counter()
            transcode(src, path, height)
            console.print(f"[dim]transcoded {path.name} in {time.perf_counter() - t:.1f} s[/dim]")
        inputs.append((label, path))
    for _, path in inputs:
        if not list_renditions(path):
            hh = load_index(path).height
            heights = [hh // 2, hh // 4] if hh < 1000 else [360, 180]
            t = time.perf_counter()
            make_renditions(path, heights)
            console.print(
                f"[dim]renditions {heights} of {path.name}: {time.perf_counter() - t:.1f} s "
                "(one-off, not in the timings)[/dim]"
            )
    return inputs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-1080p", action="store_true")
    args = p.parse_args()
    console = make_console()
    if not args.video.exists():
        console.print(f"[red]{args.video} not found[/red]")
        return 2
    from rich.table import Table

    inputs = prepare(args.video, args.skip_1080p, console)
    try:
        import decord  # noqa: F401

        have_decord = True
    except ImportError:
        have_decord = False
    table = Table(title="video loading, one pinned core: frames/s delivered (higher is better)")
    for col in (
        "input",
        "pattern",
        "baseline",
        "baseline f/s",
        "smolplug f/s",
        "speedup",
        "frames decoded (base / smolplug)",
        "smolplug read",
    ):
        table.add_column(col, overflow="fold")
    with pinned_to_one_core():
        cv2.setNumThreads(1)
        for label, path in inputs:
            index = load_index(path)
            n = index.n_frames
            every30 = FrameSelection.every(30)
            sample = FrameSelection.sample(fraction=0.01, seed=0)
            sampled, _ = sample.resolve(n)
            k30 = len(every30.resolve(n)[0])
            cases = [
                (
                    "(a) every 30th -> 50x50+100x100",
                    "cv2 read all + INTER_NEAREST",
                    k30,
                    lambda p=path: noscope_loader(p),
                    lambda p=path, sel=every30: smolplug_run(
                        p, FrameSpec(100, 100, dtype="uint8", layout="NHWC"), sel, downscale_50
                    ),
                ),
                (
                    "(b) 1% random -> 65x65 norm",
                    "cv2 set(POS_FRAMES)+read",
                    len(sampled),
                    lambda p=path, s=sampled: blazeit_seek_loader(p, s),
                    lambda p=path, sel=sample: smolplug_run(
                        p, FrameSpec(65, 65, mean=IMAGENET_MEAN, std=IMAGENET_STD), sel
                    ),
                ),
            ]
            if have_decord:
                cases.append(
                    (
                        "(b) 1% random -> 65x65 norm",
                        "decord get_batch",
                        len(sampled),
                        lambda p=path, s=sampled: decord_loader(p, s),
                        lambda p=path, sel=sample: smolplug_run(
                            p, FrameSpec(65, 65, mean=IMAGENET_MEAN, std=IMAGENET_STD), sel
                        ),
                    )
                )
            imagenet = FrameSpec(224, 224, mean=IMAGENET_MEAN, std=IMAGENET_STD)
            cases += [
                (
                    "(c) every frame -> 224x224 norm",
                    "PyAV to_ndarray + cv2.resize",
                    n,
                    lambda p=path: pyav_loader(p),
                    lambda p=path, sp=imagenet: smolplug_run(p, sp, FrameSelection.all()),
                ),
                (
                    "(c) same, source only (no renditions)",
                    "PyAV to_ndarray + cv2.resize",
                    n,
                    lambda p=path: pyav_loader(p),
                    lambda p=path, sp=imagenet: smolplug_run(
                        p, sp, FrameSelection.all(), headroom=float("inf")
                    ),
                ),
            ]
            for pattern, base_name, delivered, base_fn, ours_fn in cases:
                with console.status(f"{label}: {pattern}"):
                    tb, base_dec = timed(base_fn, args.repeats)
                    ts, (ours_dec, used) = timed(ours_fn, args.repeats)
                base_dec_s = str(base_dec) if base_dec >= 0 else "?"
                table.add_row(
                    label,
                    pattern,
                    base_name,
                    f"{delivered / tb:.0f}",
                    f"{delivered / ts:.0f}",
                    f"[bold]{tb / ts:.1f}x[/bold]",
                    f"{base_dec_s} / {ours_dec}",
                    used,
                )
    console.print(table)
    if not have_decord:
        console.print("[dim]decord is not installed: its row is left out (pip install decord)[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
