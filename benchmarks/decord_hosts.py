"""Hosts that read through decord, with smolplug's decord drop-in and without: EvaDB and Ray Data.

Neither host is changed: the ``decord`` adapter replaces ``decord.VideoReader`` (in Ray's worker
processes through ``SMOLPLUG=decord`` in the tasks' environment, which the start-up hook reads).

- **EvaDB** 0.3.9 (its ``DecordReader`` reads ``reader[i]`` for each frame id it computes):
  ``SELECT id, data FROM v SAMPLE 30`` and ``... WHERE id < 200`` (EvaDB does not clamp the
  range: past the end, decord raises), three ways: EvaDB as it is, with the decord drop-in only,
  and with smolplug's ``evadb`` adapter (which computes the ids itself and decodes them as one
  plan).
- **Ray Data** 2.60 ``read_videos(path, fps=...)``: Ray enumerates every frame of a decord reader
  and keeps one in ``round(source fps / fps)``; the drop-in's frames decode when used, so only the
  kept ones are. ``fps=1`` (the sparsest Ray allows: an integer; every 10th frame at 10 fps, every
  25th at 25) and every frame (``fps=None``).

The answers are compared (ids, and pixels within decord's rounding) before anything is timed;
median of ``--repeats`` runs (EvaDB: modes interleaved; Ray: each mode's runs in a block after an
untimed one, as Ray keeps a worker per task environment).

    .venv/bin/python benchmarks/decord_hosts.py [--repeats 3] [--video PATH ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smolplug.adapters import get  # noqa: E402
from smolplug.cli import make_console  # noqa: E402

EVADB_QUERIES = {
    "SAMPLE 30": "SELECT id, data FROM v SAMPLE 30",
    "id < 200": "SELECT id, data FROM v WHERE id < 200",
}
EVADB_MODES = ("EvaDB", "decord drop-in", "evadb adapter")


def _column(df: Any, name: str) -> Any:
    return df[[c for c in df.columns if c.split(".")[-1] == name][0]]


def evadb_rows(video: Path, repeats: int) -> list[dict]:
    try:
        import evadb
    except ImportError:
        return []
    work = Path(tempfile.mkdtemp(prefix="smolplug-evadb-"))
    here = Path.cwd()
    os.chdir(work)  # EvaDB writes its catalog and media copies into the working directory
    try:
        cur = evadb.connect(str(work / "db")).cursor()
        cur.query("DROP TABLE IF EXISTS v").df()
        cur.query(f"LOAD VIDEO '{video}' INTO v").df()

        def run(mode: str, sql: str) -> tuple[float, np.ndarray, np.ndarray]:
            name = {"decord drop-in": "decord", "evadb adapter": "evadb"}.get(mode)
            if name:
                get(name).enable()
            try:
                t = time.perf_counter()
                df = cur.query(sql).df()
                dt = time.perf_counter() - t
            finally:
                if name:
                    get(name).disable()
            return dt, _column(df, "id").to_numpy(), np.stack(_column(df, "data").to_list())

        rows = []
        for label, sql in EVADB_QUERIES.items():
            ref = run("EvaDB", sql)
            for mode in EVADB_MODES[1:]:
                got = run(mode, sql)
                assert np.array_equal(ref[1], got[1]), (label, mode, "ids differ")
                worst = int(np.abs(ref[2].astype(np.int16) - got[2]).max())
                assert worst <= 8, (label, mode, worst)
            times: dict[str, list[float]] = {m: [] for m in EVADB_MODES}
            for _ in range(repeats):
                for mode in EVADB_MODES:
                    times[mode].append(run(mode, sql)[0])
            med = {m: statistics.median(v) for m, v in times.items()}
            rows.append({"video": video.name, "query": label, "frames": len(ref[1]), **med})
        return rows
    finally:
        os.chdir(here)


def ray_rows(video: Path, repeats: int, fps: int | None) -> list[dict]:
    try:
        import ray
        import ray.data
    except ImportError:
        return []
    import av

    with av.open(str(video)) as c:
        s = c.streams.video[0]
        rate = float(s.average_rate or s.guessed_rate)
    stride = 1 if fps is None else max(1, round(rate / fps))

    def reader_module(batch: dict) -> dict:
        import decord

        batch["reader"] = np.array([decord.VideoReader.__module__] * len(batch["frame_index"]))
        batch["frame"] = np.array([int(f.astype(np.int64).sum()) for f in batch["frame"]])
        return batch

    def run(on: bool, check: bool = False) -> tuple[float, list]:
        remote = {"runtime_env": {"env_vars": {"SMOLPLUG": "decord" if on else "0"}}}
        ds = ray.data.read_videos(str(video), fps=fps, **remote)
        if check:  # fused with the read (same remote arguments): runs in the reading process
            ds = ds.map_batches(reader_module, batch_format="numpy", **remote)
        t = time.perf_counter()
        out = []
        for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
            out += (
                list(zip(b["frame_index"], b["frame"], b["reader"], strict=True))
                if check
                else [len(b["frame_index"])]
            )
        return time.perf_counter() - t, out

    _, off = run(False, check=True)
    _, on = run(True, check=True)
    off, on = sorted(off, key=lambda r: int(r[0])), sorted(on, key=lambda r: int(r[0]))
    assert [r[0] for r in off] == [r[0] for r in on], "frame indices differ"
    assert {r[2] for r in off} == {"decord.video_reader"} and all(r[2].startswith("smolplug") for r in on), (
        {r[2] for r in off},
        {r[2] for r in on},
    )
    pixels = max(abs(int(a[1]) - int(b[1])) / max(int(a[1]), 1) for a, b in zip(off, on, strict=True))
    # in blocks, each after a run that is not timed: Ray keeps a worker per task environment, and
    # switching environments every run would time worker start-ups (2-3 s each here)
    t_off, t_on = [], []
    for plugin, times in ((False, t_off), (True, t_on)):
        run(plugin)
        times += [run(plugin)[0] for _ in range(repeats)]
    return [
        {
            "video": video.name,
            "stride": stride,
            "frames": len(on),
            "decord": statistics.median(t_off),
            "drop-in": statistics.median(t_on),
            "pixel sums differ by": pixels,
        }
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, action="append", help="default: 1080p transcode, bikes.mp4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", choices=["evadb", "ray"], action="append", default=[])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    if args.video:
        videos = args.video
    else:
        from integration_tests.workload import DEFAULT_VIDEO, prepare_video

        videos = [prepare_video(DEFAULT_VIDEO, hd=True, renditions=False), DEFAULT_VIDEO.parent / "bikes.mp4"]
    out: dict[str, list] = {"evadb": [], "ray": []}
    if "evadb" not in args.skip:
        t = Table(title=f"EvaDB 0.3.9 queries, seconds (median of {args.repeats})")
        for col in ("video", "query", "frames", *EVADB_MODES, "drop-in speedup", "adapter speedup"):
            t.add_column(col)
        for video in videos:
            for r in evadb_rows(video.resolve(), args.repeats):
                out["evadb"].append(r)
                base = r["EvaDB"]
                t.add_row(
                    r["video"],
                    r["query"],
                    str(r["frames"]),
                    *(f"{r[m]:.3f}" for m in EVADB_MODES),
                    f"[bold]{base / r['decord drop-in']:.2f}x[/bold]",
                    f"{base / r['evadb adapter']:.2f}x",
                )
        console.print(t if out["evadb"] else "[yellow]EvaDB is not installed: left out[/yellow]")
    if "ray" not in args.skip:
        try:
            import ray

            from smolplug.ray.local import init  # a fresh local node (Ray and EvaDB's pydantic 1)

            init(num_cpus=2, address="local")
        except ImportError:
            console.print("[yellow]Ray Data is not installed: left out[/yellow]")
        else:
            t = Table(title=f"Ray Data read_videos, seconds (median of {args.repeats})")
            for col in ("video", "every n-th frame", "frames", "decord", "drop-in", "speedup", "pixels"):
                t.add_column(col)
            for video in videos:
                for fps in (1, None):
                    for r in ray_rows(video.resolve(), args.repeats, fps):
                        out["ray"].append(r)
                        t.add_row(
                            r["video"],
                            str(r["stride"]),
                            str(r["frames"]),
                            f"{r['decord']:.3f}",
                            f"{r['drop-in']:.3f}",
                            f"[bold]{r['decord'] / r['drop-in']:.2f}x[/bold]",
                            f"sums within {r['pixel sums differ by']:.1e}",
                        )
            console.print(t)
            ray.shutdown()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
