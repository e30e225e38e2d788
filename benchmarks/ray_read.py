"""Ray Data benchmark: smolplug.ray.read_frames vs ray.data.read_videos, same cluster, same files.

Inputs: copies (hard links) of vtest.avi (768x576 MPEG-4 part 2, 795 frames) and of its 1440x1080
H.264 transcode (integration_tests.workload.prepare_video, IDR every 20 frames), each with the
low-resolution renditions prepare_video makes (built once, cached, not timed).

  (a) every 30th frame -> 224x224 normalised (FrameSpec.imagenet: shorter side 256, centre crop)
      smolplug.ray.read_frames(files, FrameSelection.every(30), FrameSpec.imagenet())
      vs ray.data.read_videos(files) + map_batches(keep frame_index % 30 == 0, cv2 resize (area),
      crop, normalise): decord decodes every frame at full resolution; and the same with
      read_videos' own fps=1 and resize knobs
  (b) one 1080p file, every frame -> 224x224: read tasks per file, and frames/s with 1 and with 2
      concurrent read tasks (``concurrency``), at full resolution (scale_headroom=inf) and from
      the 360p rendition
  (d) per-core costs for the scaling model (docs/ray.md): smolplug's read tasks run in this
      process pinned to one core (FFmpeg then decodes on one thread), and decord decoding every
      frame of the 1080p file, the same way
  (b2) the same file's read tasks as plain Ray tasks (at most 1 or 2 at once, each returning its
      row count): the decoding's own scaling, without Ray Data's executor or the driver's pull
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
# Ray starts its workers at nice 15; peers then get what other work on the machine leaves them
os.environ.setdefault("RAY_worker_niceness", "0")

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


def peer_dataset(files: list[Path], tuned: bool = False):
    """read_videos + map_batches; ``tuned``: with read_videos' own knobs as well, ``fps=1`` (keeps
    every 10th frame of these 10 frames/s videos before they become blocks) and ``resize`` to
    the shorter side 256 at decode time (decord still decodes every frame at full size)."""
    import ray

    knobs = {"fps": 1, "resize": (256, 341)} if tuned else {}  # both inputs are 4:3
    ds = ray.data.read_videos([str(f) for f in files], include_paths=True, **knobs)
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


def task_scaling(hd: Path, headroom: float, repeats: int) -> dict:
    """The read tasks of one file run as plain Ray tasks, at most ``w`` at once, each returning its
    row count: the decoding's own scaling, without Ray Data's executor or the driver's pull."""
    import ray

    from smolplug.ray import frames_datasource

    tasks = frames_datasource([str(hd)], None, FrameSpec.imagenet(), scale_headroom=headroom).get_read_tasks(
        200
    )
    run = ray.remote(num_cpus=1)(lambda task: sum(b.num_rows for b in task()))

    def once(w: int) -> float:
        t = time.perf_counter()
        pending, todo, n = [], list(tasks), 0
        while todo or pending:
            while todo and len(pending) < w:
                pending.append(run.remote(todo.pop(0)))
            done, pending = ray.wait(pending, num_returns=1)
            n += ray.get(done[0])
        return n / (time.perf_counter() - t)

    once(2)
    fps: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for w in (1, 2):
            fps[w].append(once(w))
    m = {w: statistics.median(v) for w, v in fps.items()}
    return {
        "tasks": len(tasks),
        "fps_1": [round(x, 1) for x in fps[1]],
        "fps_2": [round(x, 1) for x in fps[2]],
        "scaling": m[2] / m[1],
        "load_average": os.getloadavg(),
    }


def signature(ds) -> dict:
    """(path, position) -> (frame index, status, CRC-32 of the tensor)."""
    out = {}
    for r in ds.iter_rows():
        crc = zlib.crc32(np.ascontiguousarray(r["frame"]).tobytes())
        out[(r["path"], int(r["position"]))] = (int(r["frame_index"]), r["status"], crc)
    return out


def per_core_costs(hd: Path) -> dict:
    """Milliseconds of one core per delivered frame: smolplug's read tasks run here, pinned, and
    decord's sequential decode of every frame (what read_videos does per frame)."""
    import decord

    from smolplug.bench.jpeg_peers import pinned_to_one_core
    from smolplug.ray import frames_datasource

    out = {}
    cases = {
        "smolplug every 30th, rendition": (FrameSelection.every(STRIDE), 1.0),
        "smolplug every 30th, 1080p source": (FrameSelection.every(STRIDE), float("inf")),
        "smolplug every frame, rendition": (FrameSelection.all(), 1.0),
        "smolplug every frame, 1080p source": (FrameSelection.all(), float("inf")),
    }
    for label, (sel, headroom) in cases.items():
        src = frames_datasource([str(hd)], sel, FrameSpec.imagenet(), scale_headroom=headroom)
        tasks = src.get_read_tasks(1)
        with pinned_to_one_core():
            t = time.perf_counter()
            n = sum(block.num_rows for task in tasks for block in task())
            out[label] = round((time.perf_counter() - t) / n * 1e3, 3)
    with pinned_to_one_core():
        t = time.perf_counter()
        vr = decord.VideoReader(str(hd))
        n = 0
        for _ in range(len(vr)):
            vr.next().asnumpy()
            n += 1
        out["decord every frame, 1080p source"] = round((time.perf_counter() - t) / n * 1e3, 3)
    out["bytes_per_frame"] = round(hd.stat().st_size / n)
    from smolplug.video import load_index
    from smolplug.video.plan import plan
    from smolplug.video.renditions import list_renditions

    index = load_index(hd)
    wanted = np.arange(0, index.n_frames, STRIDE)
    out["decoded_per_delivered_every_30th"] = round(sum(s.span for s in plan(index, wanted)) / len(wanted), 2)
    r360 = [r for r in list_renditions(hd) if r.height == 360]
    out["rendition_360p_bytes_ratio"] = (
        round(r360[0].path.stat().st_size / hd.stat().st_size, 4) if r360 else None
    )
    return out


# -- the scaling model (docs/ray.md): 1,000 hours of 1080p H.264 on 10 / 100 nodes ---------------
HOURS, FPS, BITRATE = 1000, 30, 4e6  #: the query's footage: 1080p30 H.264 at 4 Mbit/s
GOP_FRAMES = 60  #: an IDR frame every 2 s, as cameras record
CORES_PER_NODE = 16
DNN_FPS_PER_CORE = 89.0  #: EfficientNet-Lite0 at 224, onnxruntime, one thread (docs/pipeline.md)
STORAGE_BYTES_S = 1.25e9  #: per node: 10 Gbit/s to shared storage
OBJECT_STORE_BYTES_S = 1.25e9  #: per node: frames cross nodes over the same 10 Gbit/s
FRAME_BYTES = 3 * 224 * 224 * 4  #: one float32 224x224 tensor
#: an assumed (not measured here) accelerator per node running the model this fast, frames/s
ACCELERATOR_FPS = 4000.0


def scaling_model(per_core_ms: dict) -> dict:
    """Wall time of 'every 30th frame -> 224x224 -> model' over ``HOURS`` of footage, from the
    measured per-core costs: decode tasks and model actors split each cluster's cores."""
    from smolplug.plan.cluster import scale_out
    from smolplug.plan.costmodel import Stage

    frames = HOURS * 3600 * FPS
    delivered = frames / STRIDE
    # decoded frames per delivered one: a target at offset o of its GOP decodes o + 1 frames
    # (sparse plans skip non-reference frames; an IP-only camera stream has none to skip)
    offsets = np.arange(0, GOP_FRAMES, STRIDE)
    span = float(np.mean(offsets + 1))
    full_ms = per_core_ms["smolplug every frame, 1080p source"]
    rend_ms = per_core_ms["smolplug every frame, rendition"]
    decord_ms = per_core_ms["decord every frame, 1080p source"]
    read_bytes = BITRATE / 8 / FPS  # every GOP holds a target: every byte is read
    cases = {
        "smolplug, 1080p source": (1e3 / (span * full_ms), read_bytes * STRIDE),
        "smolplug, 360p renditions": (
            1e3 / (span * rend_ms),
            read_bytes * STRIDE * (per_core_ms.get("rendition_360p_bytes_ratio") or (360 / 1080) ** 2),
        ),
        "read_videos (decord, every frame)": (1e3 / (STRIDE * decord_ms), read_bytes * STRIDE),
    }
    models = {
        "CPU actors": Stage("dnn", {1: DNN_FPS_PER_CORE}),
        "1 accelerator/node": Stage("dnn", {0: ACCELERATOR_FPS}),
    }
    k = per_core_ms.get("decoded_per_delivered_every_30th")
    out: dict = {
        "check: every 30th of the measured file, ms per frame (measured, predicted)": (
            per_core_ms["smolplug every 30th, 1080p source"],
            round(k * full_ms, 3) if k else None,
        ),
        "frames": frames,
        "delivered": delivered,
        "decoded_per_delivered": span,
        "terabytes": HOURS * 3600 * BITRATE / 8 / 1e12,
    }
    for label, (decode_fps, bytes_per_delivered) in cases.items():
        for model_name, dnn in models.items():
            rows = scale_out(
                Stage("decode", {1: decode_fps}),
                dnn,
                [1, 10, 100],
                CORES_PER_NODE,
                delivered,
                read_bytes_per_frame=bytes_per_delivered,
                storage_bytes_s=STORAGE_BYTES_S,
                frame_bytes=FRAME_BYTES,
                object_store_bytes_s=OBJECT_STORE_BYTES_S,
            )
            out[f"{label} + {model_name}"] = {
                "decode_fps_per_core": round(decode_fps, 1),
                **{
                    f"{n} nodes": {
                        "hours": round(h, 3),
                        "frames_s": round(e.throughput),
                        "bottleneck": e.bottleneck,
                        "decode_tasks": e.decode_tasks,
                        "actors": e.actors,
                        "storage_gb_s": round(e.throughput * bytes_per_delivered / 1e9, 2),
                        "object_store_gb_s_per_node": round(e.throughput * FRAME_BYTES / n / 1e9, 3),
                    }
                    for n, e, h in rows
                },
            }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=2, help="copies of each input (default 2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray node")
    ap.add_argument("--skip-two-node", action="store_true")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--model-from", help="print the scaling model from an earlier --json and stop")
    ap.add_argument("--only-task-scaling", action="store_true", help="only the read tasks' 1 -> 2 scaling")
    args = ap.parse_args()
    if args.model_from:
        model = scaling_model(json.loads(Path(args.model_from).read_text())["per_core_ms"])
        print(json.dumps(model, indent=1))
        return 0

    import ray

    from smolplug.ray import frames_datasource, local

    files, hd = media(args.copies)
    print(f"inputs: {len(files)} files ({args.copies} x {hd.name}, {args.copies} x vtest.avi)", flush=True)
    results: dict = {"cpus": args.cpus, "copies": args.copies, "repeats": args.repeats}
    results["load_average_at_start"] = os.getloadavg()  # other work on the machine

    local.init(num_cpus=args.cpus)
    ray.data.DataContext.get_current().enable_progress_bars = False
    if args.only_task_scaling:
        out = {
            lab: task_scaling(hd, h, args.repeats)
            for lab, h in (("1080p source", float("inf")), ("360p rendition", 1.0))
        }
        print(json.dumps({"read_task_scaling": out}, indent=1))
        ray.shutdown()
        return 0
    # (a) every 30th frame
    a = side_by_side(
        {
            "smolplug.ray.read_frames": lambda: smolplug_dataset(files),
            "ray read_videos+map_batches": lambda: peer_dataset(files),
            "ray read_videos(fps=1, resize)+map_batches": lambda: peer_dataset(files, tuned=True),
        },
        args.repeats,
    )
    ours = a["smolplug.ray.read_frames"]["fps_median"]
    a["ratio"] = ours / a["ray read_videos+map_batches"]["fps_median"]
    a["ratio_tuned"] = ours / a["ray read_videos(fps=1, resize)+map_batches"]["fps_median"]
    src = frames_datasource([str(f) for f in files], FrameSelection.every(STRIDE), FrameSpec.imagenet())
    a["smolplug_tasks_at_200"] = len(src.get_read_tasks(200))
    results["every_30th"] = a
    print(json.dumps({"every_30th": a}, indent=1), flush=True)

    # (b) one file, every frame: tasks per file and 1 -> 2 concurrent read tasks. Ray Data
    # reserves half of the CPUs for the operators downstream of the read (here the driver's
    # iterator): on two CPUs that holds the read to one task at a time whatever `concurrency`
    # says; the reservation is off for this part (both runs).
    ray.data.DataContext.get_current().op_resource_reservation_enabled = False
    results["load_average_before_b"] = os.getloadavg()
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
    results["read_task_scaling"] = {
        label: task_scaling(hd, h, args.repeats)
        for label, h in (("1080p source", float("inf")), ("360p rendition", 1.0))
    }
    print(json.dumps({"read_task_scaling": results["read_task_scaling"]}, indent=1), flush=True)
    results["load_average_after_b"] = os.getloadavg()
    ray.data.DataContext.get_current().op_resource_reservation_enabled = True
    print(json.dumps({"one_file_every_frame": b}, indent=1), flush=True)

    results["per_core_ms"] = per_core_costs(hd)
    print(json.dumps({"per_core_ms": results["per_core_ms"]}, indent=1), flush=True)
    results["scaling_model"] = scaling_model(results["per_core_ms"])
    print(json.dumps({"scaling_model": results["scaling_model"]}, indent=1), flush=True)

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
