"""smolplug.ray on a local Ray node (2 CPUs, started once for the module): the same frames and
pixels as the single-process reader, every requested position exactly once (damaged, missing
and unreadable files included), a worker killed mid-read, JPEG folders, the inference recipe.
The piece planning itself is tested without Ray."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import smolplug
from smolplug import FrameRequest, FrameSpec, Status
from smolplug.request.selection import FrameSelection
from smolplug.video import load_index

from .conftest import encode, synthetic_rgb

SPEC = FrameSpec(48, 64, dtype="uint8", layout="NHWC")
CLIPS = ["h264-bframes.mp4", "mpeg4-packed.avi", "h264-cut.ts", "vp9-hidden.webm"]
SELECTIONS = {
    "all": FrameSelection.all(),
    "every-7": FrameSelection.every(7, offset=2),
    "indices": FrameSelection.indices([40, 3, 3, 500, 17, -1, 59]),
}


# -- reference: the single-process reader ---------------------------------------------------------
def single_process(path: Path, selection: FrameSelection, spec: FrameSpec = SPEC) -> dict[int, tuple]:
    """position -> (frame index, pixels, status name, message) from ``open_frames``, decoding on
    one core as a read task does (FFmpeg's frame threads report damage at other packets)."""
    from smolplug.ray.cores import one_core

    out = {}
    req = FrameRequest(spec, frames=selection, on_error="skip", batch_size=16)
    with one_core(), smolplug.open_frames(str(path), req) as reader:
        pos = 0
        for b in reader:
            for j in range(len(b)):
                out[pos] = (int(b.indices[j]), b.data[j].copy(), Status(int(b.status[j])).name, b.messages[j])
                pos += 1
    return out


def by_file(rows: list[dict]) -> dict[str, dict[int, dict]]:
    """path -> position -> row; fails on a position delivered twice."""
    out: dict[str, dict[int, dict]] = {}
    for r in rows:
        mine = out.setdefault(r["path"], {})
        assert r["position"] not in mine, f"{r['path']} position {r['position']} delivered twice"
        mine[r["position"]] = r
    return out


def assert_same(rows: dict[int, dict], ref: dict[int, tuple], what: str) -> None:
    assert sorted(rows) == sorted(ref), what
    for pos, (frame, pixels, status, message) in ref.items():
        r = rows[pos]
        assert (r["frame_index"], r["status"]) == (frame, status), f"{what} position {pos}"
        if status in ("OK", "WARNING"):
            assert np.array_equal(np.asarray(r["frame"]), pixels), f"{what} frame {frame} pixels"
        else:
            assert r["message"] == message, f"{what} frame {frame}"


# -- piece planning (no Ray) --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["h264-bframes.mp4", "mpeg4-packed.avi", "h264-no-pts.ts"])
def test_pieces_cover_every_position_once_and_start_at_seek_points(corpus, name):
    from smolplug.ray.pieces import video_pieces

    index = load_index(corpus[name])
    frames = np.asarray([5, 70, *range(index.n_frames), 3, -2], np.int64)
    pieces = video_pieces(name, index, frames, target_cost=1e-9)
    positions = np.concatenate([p.positions for p in pieces])
    assert sorted(positions.tolist()) == list(range(len(frames)))
    for p in pieces:
        assert np.array_equal(p.frames, frames[p.positions])
        assert list(p.positions) == sorted(p.positions)  # request order kept within a piece
    assert {70, -2} <= set(pieces[0].frames.tolist())  # frames that do not exist: the first piece
    if index.identity == "count":
        assert len(pieces) == 1  # only a decode from the start identifies its frames
    else:
        assert len(pieces) == len(index.keyframes)  # one per GOP at the smallest target
        assert all(index.keyframe[p.first] for p in pieces)
        spans = [(p.first, p.last) for p in pieces]
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_pieces_group_gops_up_to_the_target_cost(corpus):
    from smolplug.ray.pieces import HD_PIXELS, video_pieces

    index = load_index(corpus["h264-bframes.mp4"])  # 48 frames, closed GOPs of 12
    everything = np.arange(index.n_frames)
    one = video_pieces("x", index, everything, target_cost=1e9, pixels=HD_PIXELS)
    assert len(one) == 1 and one[0].cost == index.n_frames == 48
    two = video_pieces("x", index, everything, target_cost=24, pixels=HD_PIXELS)
    assert [len(p) for p in two] == [24, 24]  # GOPs are never cut
    three = video_pieces("x", index, everything, target_cost=20, pixels=HD_PIXELS)
    assert [len(p) for p in three] == [24, 12, 12]  # each about the target: 12-frame GOPs
    sparse = video_pieces("x", index, np.arange(0, 60, 30), target_cost=1, pixels=HD_PIXELS)
    assert [p.frames.tolist() for p in sparse] == [[0], [30]]
    assert [p.first for p in sparse] == [0, 24]  # frame 30 decodes from its GOP's keyframe


def test_read_tasks_take_one_core_each():
    from smolplug.ray.cores import one_core

    cores = os.sched_getaffinity(0)
    with one_core() as first:
        assert os.sched_getaffinity(0) == {first}
        if len(cores) > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")  # another process claims another core
            with ctx.Pool(1, initializer=os.sched_setaffinity, initargs=(0, cores)) as pool:
                other = pool.apply(_claim)
            assert other is not None and other != first
        with one_core() as again:  # nothing free within this thread's one core
            assert again is None
    assert os.sched_getaffinity(0) == cores
    with one_core(enabled=False) as none:
        assert none is None


def _claim():
    from smolplug.ray.cores import one_core

    with one_core() as core:
        return core


def test_imports_without_ray_say_what_to_install(monkeypatch):
    import builtins

    from smolplug.ray import read

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"smolplug\[ray\]"):
        read.read_frames("x.mp4")


# -- on a local Ray node ----------------------------------------------------------------------
try:
    import ray
except ImportError:  # the tests below skip (their fixture says why)
    ray = None


@pytest.fixture(scope="module")
def local_ray(corpus):
    """One local node for the module (after the corpus fixture set the cache directory, which its
    workers inherit)."""
    pytest.importorskip("ray.data", reason="Ray Data not installed (pip install 'smolplug[ray]')")
    from smolplug.ray import local

    if ray.is_initialized():
        ray.shutdown()
    local.init(num_cpus=2)
    yield ray
    ray.shutdown()


def read_all(ds) -> list[dict]:
    return list(ds.iter_rows())


def test_same_frames_and_pixels_as_the_single_process_reader(local_ray, corpus):
    from smolplug.ray import read_frames

    paths = [corpus[name] for name in CLIPS]
    for sel_name, sel in SELECTIONS.items():
        # tiny pieces: one per GOP, so every GOP boundary of every clip is a task boundary
        ds = read_frames(paths, sel, SPEC, min_task_cost=0, override_num_blocks=200, batch_size=8)
        got = by_file(read_all(ds))
        for p in paths:
            assert_same(got[str(p)], single_process(p, sel), f"{p.name} {sel_name}")


def test_one_file_is_read_by_several_tasks(local_ray, corpus):
    from smolplug.ray import frames_datasource

    source = frames_datasource(corpus["h264-bframes.mp4"], None, SPEC, min_task_cost=0)
    tasks = source.get_read_tasks(4)
    assert [t.metadata.num_rows for t in tasks] == [12, 12, 12, 12]
    assert [p.first for p, _ in source.pieces(4)] == [0, 12, 24, 36]
    assert len(source.get_read_tasks(1)) == 1
    rows = read_all(ray.data.read_datasource(source, override_num_blocks=4))
    assert sorted(r["frame_index"] for r in rows) == list(range(48))


def test_every_position_accounted_for_with_damaged_and_unreadable_files(local_ray, corpus, tmp_path):
    from smolplug.ray import read_frames

    from .media import empty_file, garbage_file, overwrite_middle, truncate

    good = corpus["h264-bframes.mp4"]
    damaged = overwrite_middle(good, tmp_path / "damaged.mp4", kib=2)
    short = truncate(corpus["h264.ts"], tmp_path / "short.ts", 0.5)
    garbage = garbage_file(tmp_path / "garbage.mp4")
    empty = empty_file(tmp_path / "empty.mkv")
    missing = tmp_path / "missing.mp4"
    inputs = [good, damaged, short, garbage, empty, missing]
    sel = FrameSelection.every(3)
    rows = by_file(read_all(read_frames(inputs, sel, SPEC, min_task_cost=0, override_num_blocks=50)))
    assert set(rows) == {str(p) for p in inputs}
    for p in (good, damaged, short):
        assert_same(rows[str(p)], single_process(p, sel), p.name)
    assert {r["status"] for r in rows[str(damaged)].values()} - {"OK"}, "the damage went unnoticed"
    for p, status in ((garbage, "CORRUPT"), (empty, "EMPTY"), (missing, "IO_ERROR")):
        (r,) = rows[str(p)].values()  # every 3rd frame of a file with no frame count: one row
        assert (r["frame_index"], r["status"]) == (-1, status), p.name
        assert p.name in r["message"]
    # explicit indices name their frames without a frame count: one row each
    rows = by_file(read_all(read_frames([garbage], [4, 4, 9], SPEC)))
    assert sorted((r["position"], r["frame_index"]) for r in rows[str(garbage)].values()) == [
        (0, 4),
        (1, 4),
        (2, 9),
    ]


def _kill_a_read_worker(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first worker process seen running a read task (Ray names its process after
    the task) — a worker that dies mid-read."""
    me = os.getpid()
    while not stop.is_set() and not killed:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("ray::ReadSmolplugFrames"):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.02)


def test_a_worker_killed_mid_read_loses_and_duplicates_nothing(local_ray, corpus, tmp_path):
    import shutil

    from smolplug.ray import read_frames

    path = corpus["mpeg4-packed.avi"]
    copies = [shutil.copyfile(path, tmp_path / f"copy{k}.avi") for k in range(6)]
    spec = FrameSpec(192, 256, dtype="float32")  # slower per frame: the read is still running
    stop, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_a_read_worker, args=(stop, killed), daemon=True)
    n = load_index(path).n_frames
    ds = read_frames(copies, None, spec, min_task_cost=0, override_num_blocks=6, batch_size=4)
    watcher.start()
    try:
        rows = read_all(ds)
    finally:
        stop.set()
        watcher.join()
    assert killed, "no read worker was seen running"
    got = [(r["path"], r["position"]) for r in rows]
    assert len(got) == len(set(got)) == 6 * n
    ref = single_process(path, FrameSelection.all(), spec)
    for r in rows:
        assert r["status"] == "OK"
        assert np.array_equal(np.asarray(r["frame"]), ref[r["position"]][1])


def test_read_images_matches_the_batch_decoder(local_ray, jpeg_dir, tmp_path):
    from smolplug.ray import read_images

    (jpeg_dir / "9.jpg").write_bytes(encode(synthetic_rgb(120, 90, seed=9))[:900])  # truncated
    (jpeg_dir / "10.jpg").write_bytes(b"not a jpeg")
    files = sorted(jpeg_dir.glob("*.jpg"), key=lambda p: int(p.stem))
    spec = FrameSpec.imagenet(64, 72)
    ref = smolplug.decode_jpeg_batch([f.read_bytes() for f in files], spec, on_error="skip")
    for source in (jpeg_dir, str(jpeg_dir / "*.jpg"), [str(f) for f in files]):
        rows = read_all(read_images(source, None, spec, min_task_files=2, override_num_blocks=3))
        assert sorted(r["position"] for r in rows) == list(range(len(files)))
        for r in rows:
            i = r["index"]
            assert r["path"] == str(files[i])
            assert r["status"] == Status(int(ref.status[i])).name
            if r["status"] == "OK":
                assert np.array_equal(np.asarray(r["image"]), ref.data[i])
    rows = read_all(read_images(jpeg_dir, [5, 0, 99], spec))
    assert sorted((r["position"], r["index"], r["status"]) for r in rows) == [
        (0, 5, "TRUNCATED" if ref.status[5] == Status.TRUNCATED else Status(int(ref.status[5])).name),
        (1, 0, "OK"),
        (2, 99, "MISSING"),
    ]


def test_predict_runs_the_delivered_frames_in_an_actor_pool(local_ray, corpus, tmp_path):
    from ray.data import ActorPoolStrategy

    from smolplug.ray import Predict, read_frames

    from .media import garbage_file

    spec = FrameSpec(32, 32)  # float32 NCHW in 0..1
    inputs = [corpus["h264-bframes.mp4"], garbage_file(tmp_path / "bad.mp4")]
    ds = read_frames(inputs, FrameSelection.every(10), spec)
    out = ds.map_batches(
        Predict,
        fn_constructor_kwargs={"model": channel_means},
        batch_size=4,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=1),
        num_cpus=1,
    )
    rows = {(r["path"], r["position"]): r for r in out.iter_rows()}
    assert len(rows) == 5 + 1 and "frame" not in next(iter(rows.values()))
    ref = single_process(inputs[0], FrameSelection.every(10), spec)
    for pos, (_, pixels, _, _) in ref.items():
        np.testing.assert_allclose(rows[(str(inputs[0]), pos)]["output"], pixels.mean(axis=(1, 2)), rtol=1e-5)
    bad = rows[(str(inputs[1]), 0)]
    assert bad["status"] == "CORRUPT" and np.isnan(bad["output"]).all()


def channel_means():
    """A 'model' factory: per-channel mean of NCHW inputs (a plain callable executor)."""
    return lambda x: np.asarray(x).mean(axis=(2, 3))
