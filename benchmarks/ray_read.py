"""Ray Data benchmark: smolplug.ray.read_frames vs ray.data.read_videos, same cluster, same files.

Inputs: copies (hard links) of vtest.avi (768x576 MPEG-4 part 2, 795 frames) and of its 1440x1080
H.264 transcode (integration_tests.workload.prepare_video, IDR every 20 frames), each with the
low-resolution renditions prepare_video makes (built once, cached, not timed).

  (a) every 30th frame -> 224x224 normalised (FrameSpec.imagenet: shorter side 256, centre crop)
      smolplug.ray.read_frames(files, FrameSelection.every(30), FrameSpec.imagenet())
      vs ray.data.read_videos(files) + map_batches(keep frame_index % 30 == 0, cv2 resize (area),
      crop, normalise): decord decodes every frame at full resolution
  (b) one 1080p file, every frame -> 224x224: read tasks per file, and frames/s with 1 and with 2
      concurrent read tasks (``concurrency``), at full resolution (scale_headroom=inf) and from
      the 360p rendition
  (c) a two-node cluster (ray.cluster_utils.Cluster, one CPU each) gives the rows of one node:
      same (path, position, frame index, status) and the same pixels (CRC of each tensor)

Peers run side by side on the same local Ray node (``--cpus``, default 2), alternating, after a
warm-up run each; medians over ``--repeats``. Each pass is timed from creating the dataset to the
last row consumed (smolplug's includes planning: index tasks and object-store puts).

    .venv/bin/python benchmarks/ray_read.py [--copies N] [--repeats N] [--cpus N] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smolplug import FrameSpec  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402
from smolplug.request.spec import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402

WORK = ROOT / ".bench" / "ray"
STRIDE = 30
MEAN = np.asarray(IMAGENET_MEAN, np.float32)
STD = np.asarray(IMAGENET_STD, np.float32)


def media(copies: int) -> tuple[list[Path], Path]:
    """(``copies`` hard links of each input, the 1080p transcode)."""
    from integration_tests.workload import prepare_video

    native = prepare_video(hd=False)
    hd = prepare_video(hd=True)
    WORK.mkdir(parents=True, exist_ok=True)
    files = []
    for src in (hd, native):
        for k in range(copies):
            dst = WORK / f"{src.stem}_copy{k}{src.suffix}"
            if not dst.exists() or not os.path.samefile(src, dst):
                dst.unlink(missing_ok=True)
                os.link(src, dst)
            files.append(dst)
    return files, hd


# -- the peer: Ray's read_videos + the same selection and preprocessing in map_batches -----------
def select_and_preprocess(batch: dict) -> dict:
    import cv2

    cv2.setNumThreads(1)
    keep = np.flatnonzero(batch["frame_index"] % STRIDE == 0)
    out = np.empty((len(keep), 3, 224, 224), np.float32)
    for j, i in enumerate(keep):
        f = batch["frame"][i]
        h, w = f.shape[:2]
        s = 256 / min(h, w)
        nw, nh = max(224, round(w * s)), max(224, round(h * s))
        r = cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA)
        y, x = (nh - 224) // 2, (nw - 224) // 2
        crop = r[y : y + 224, x : x + 224].astype(np.float32) / 255.0
        out[j] = ((crop - MEAN) / STD).transpose(2, 0, 1)
    return {"frame": out, "frame_index": batch["frame_index"][keep], "path": batch["path"][keep]}


def peer_dataset(files: list[Path]):
    import ray

    ds = ray.data.read_videos([str(f) for f in files], include_paths=True)
    return ds.map_batches(select_and_preprocess, batch_format="numpy")


def smolplug_dataset(files: list[Path], frames=None, headroom: float = 1.0, **kw):
    from smolplug.ray import read_frames

    sel = FrameSelection.every(STRIDE) if frames is None else frames
    return read_frames([str(f) for f in files], sel, FrameSpec.imagenet(), scale_headroom=headroom, **kw)


def consume(ds) -> int:
    n = 0
    for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
        n += len(b["frame_index"])
    return n


def timed(make) -> tuple[float, int]:
    t = time.perf_counter()
    n = consume(make())
    return time.perf_counter() - t, n


def side_by_side(runs: dict[str, object], repeats: int) -> dict[str, dict]:
    """Warm-up, then ``repeats`` alternating passes of each; frames/s medians."""
    for make in runs.values():
        timed(make)
    samples: dict[str, list[float]] = {k: [] for k in runs}
    frames: dict[str, int] = {}
    for _ in range(repeats):
        for name, make in runs.items():
            dt, n = timed(make)
            samples[name].append(n / dt)
            frames[name] = n
    return {
        k: {"frames": frames[k], "fps_median": statistics.median(v), "fps": [round(x, 1) for x in v]}
        for k, v in samples.items()
    }


def signature(ds) -> dict:
    """(path, position) -> (frame index, status, CRC-32 of the tensor)."""
    out = {}
    for r in ds.iter_rows():
        crc = zlib.crc32(np.ascontiguousarray(r["frame"]).tobytes())
        out[(r["path"], int(r["position"]))] = (int(r["frame_index"]), r["status"], crc)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=2, help="copies of each input (default 2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray node")
    ap.add_argument("--skip-two-node", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    import ray

    from smolplug.ray import frames_datasource, local

    files, hd = media(args.copies)
    print(f"inputs: {len(files)} files ({args.copies} x {hd.name}, {args.copies} x vtest.avi)", flush=True)
    results: dict = {"cpus": args.cpus, "copies": args.copies, "repeats": args.repeats}

    local.init(num_cpus=args.cpus)
    ray.data.DataContext.get_current().enable_progress_bars = False
    # (a) every 30th frame
    a = side_by_side(
        {
            "smolplug.ray.read_frames": lambda: smolplug_dataset(files),
            "ray read_videos+map_batches": lambda: peer_dataset(files),
        },
        args.repeats,
    )
    a["ratio"] = a["smolplug.ray.read_frames"]["fps_median"] / a["ray read_videos+map_batches"]["fps_median"]
    src = frames_datasource([str(f) for f in files], FrameSelection.every(STRIDE), FrameSpec.imagenet())
    a["smolplug_tasks_at_200"] = len(src.get_read_tasks(200))
    results["every_30th"] = a
    print(json.dumps({"every_30th": a}, indent=1), flush=True)

    # (b) one file, every frame: tasks per file and 1 -> 2 concurrent read tasks
    b: dict = {}
    for label, headroom in (("1080p source", float("inf")), ("360p rendition", 1.0)):
        src = frames_datasource([str(hd)], None, FrameSpec.imagenet(), scale_headroom=headroom)
        runs = {
            f"{w} worker(s)": (
                lambda w=w, h=headroom: smolplug_dataset([hd], FrameSelection.all(), h, concurrency=w)
            )
            for w in (1, 2)
        }
        r = side_by_side(runs, args.repeats)
        r["tasks_per_file_at_200"] = len(src.get_read_tasks(200))
        r["scaling"] = r["2 worker(s)"]["fps_median"] / r["1 worker(s)"]["fps_median"]
        b[label] = r
    results["one_file_every_frame"] = b
    print(json.dumps({"one_file_every_frame": b}, indent=1), flush=True)

    # (c) one node vs two nodes: the same rows
    if not args.skip_two_node:
        sel = FrameSelection.every(STRIDE)
        t = time.perf_counter()
        one = signature(smolplug_dataset(files, sel))
        t_one = time.perf_counter() - t
        ray.shutdown()
        with local.cluster(nodes=2, cpus_per_node=max(args.cpus // 2, 1)):
            t = time.perf_counter()
            two = signature(smolplug_dataset(files, sel))
            t_two = time.perf_counter() - t
        results["two_node"] = {
            "rows": len(one),
            "equal": one == two,
            "ok_rows": sum(v[1] == "OK" for v in one.values()),
            "seconds_one_node": round(t_one, 2),
            "seconds_two_nodes": round(t_two, 2),
        }
        print(json.dumps({"two_node": results["two_node"]}, indent=1), flush=True)
    else:
        ray.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
