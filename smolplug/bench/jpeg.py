"""JPEG preprocessing benchmark: smolplug vs the peer pipelines, same images, same output.

Output for everyone: shorter side 256 -> centre crop 224 -> ImageNet mean/std ->
float32 NCHW, written into one preallocated batch. Peers run on one core (the
process is pinned to one CPU); smolplug runs on one core, then on 1..N threads.
Every pipeline's output is checked against the torchvision-style reference
(PSNR), so a fast but wrong pipeline shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..jpeg.decode import backend, decode_jpeg_batch, default_threads
from .jpeg_peers import _SCALE, BATCH, SPEC, jpeg_size, peers, pillow_pipeline, pinned_to_one_core


def _best_times(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` wall time per pipeline, rounds interleaved (every round times every
    pipeline once), so a burst of machine noise lands on all of them rather than on one."""
    for fn in fns.values():
        fn()  # warm-up: page cache, lazy imports, pool threads
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in the 0..255 pixel domain of two normalised batches."""
    pa = a / _SCALE[None, :, None, None]
    pb = b / _SCALE[None, :, None, None]
    mse = float(np.mean((pa - pb) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@dataclass
class Row:
    name: str
    ms_per_img: float | None
    threads: int = 1
    psnr_db: float | None = None
    note: str = ""


@dataclass
class Result:
    dataset: str
    images: int
    megapixels: float
    rows: list[Row] = field(default_factory=list)
    backend: str = ""

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    @property
    def smolplug_1t(self) -> Row:
        return self.row("smolplug (1 thread)")

    def best_peer(self) -> Row:
        return min(
            (r for r in self.rows if r.ms_per_img and not r.name.startswith(("smolplug", "floor"))),
            key=lambda r: r.ms_per_img,
        )  # type: ignore[arg-type,return-value]


def run(
    dataset: str,
    images: Sequence[tuple[str, bytes]],
    repeats: int = 5,
    max_threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Result:
    datas = [d for _, d in images]
    n = len(datas)
    mp = sum(w * h for w, h in map(jpeg_size, datas)) / n / 1e6
    res = Result(dataset, n, mp, backend=backend())
    out = SPEC.allocate(n)
    ref = SPEC.allocate(n)
    for i, d in enumerate(datas):
        pillow_pipeline(d, ref[i])
    say = progress or (lambda s: None)

    def loop(fn: Callable[[bytes, np.ndarray], None]) -> Callable[[], None]:
        def run_all() -> None:
            for i, d in enumerate(datas):
                fn(d, out[i])

        return run_all

    def smolplug_batch(
        threads: int, items: Sequence[bytes] = datas, buf: np.ndarray = out
    ) -> Callable[[], None]:
        return lambda: decode_jpeg_batch(items, SPEC, out=buf, threads=threads)

    def check(name: str, fn: Callable[[], None]) -> float | None:
        if name.startswith("floor"):
            return None
        fn()
        return psnr(out, ref)

    one_core: dict[str, Callable[[], None]] = {}
    for name, fn, missing in peers():
        if missing:
            res.rows.append(Row(name, None, note=f"not installed: pip install {missing}"))
        else:
            one_core[name] = loop(fn)
    one_core["smolplug (1 thread)"] = smolplug_batch(1)
    say("one core: peers and smolplug, interleaved")
    with pinned_to_one_core():
        try:
            import cv2

            cv2.setNumThreads(1)
        except ImportError:
            pass
        times = _best_times(one_core, repeats)
        for name, fn in one_core.items():
            res.rows.append(Row(name, times[name] / n * 1e3, psnr_db=check(name, fn)))

    # Thread scaling on a loader-sized batch (the set repeated to >= BATCH items), so the
    # per-batch tail (one thread finishing the last image) does not dominate a tiny set.
    reps = -(-BATCH // n)
    items, big = datas * reps, SPEC.allocate(n * reps)
    threaded = {
        f"smolplug batch, {th} thread(s)": smolplug_batch(th, items, big)
        for th in range(1, (max_threads or default_threads()) + 1)
    }
    say("smolplug thread scaling")
    times = _best_times(threaded, repeats)
    for th, name in enumerate(threaded, start=1):
        res.rows.append(
            Row(
                name,
                times[name] / len(items) * 1e3,
                threads=th,
                psnr_db=psnr(big[:n], ref),
                note=f"batch of {len(items)}",
            )
        )
    return res


def render(results: Sequence[Result]) -> Any:
    """A rich Table per dataset: ms/img, img/s, smolplug's speedup over each row."""
    from rich.table import Table

    tables = []
    for r in results:
        base = r.smolplug_1t.ms_per_img or float("nan")
        t = Table(
            title=f"{r.dataset}: {r.images} images, {r.megapixels:.2f} MP avg -> 224x224 float32 NCHW "
            f"(backend: {r.backend})"
        )
        t.add_column("pipeline", overflow="fold")
        t.add_column("threads", justify="right")
        t.add_column("ms/img", justify="right")
        t.add_column("img/s", justify="right")
        t.add_column("smolplug 1T speedup", justify="right")
        t.add_column("PSNR vs pillow", justify="right")
        for row in r.rows:
            if row.ms_per_img is None:
                t.add_row(row.name, "", "-", "-", "-", row.note)
                continue
            t.add_row(
                f"{row.name} ({row.note})" if row.note else row.name,
                str(row.threads),
                f"{row.ms_per_img:.2f}",
                f"{1e3 / row.ms_per_img:.0f}",
                f"{row.ms_per_img / base:.2f}x",
                "" if row.psnr_db is None else f"{row.psnr_db:.1f} dB",
            )
        tables.append(t)
    return tables


def summary(r: Result) -> dict[str, float]:
    """The ratios the targets are stated in."""
    one = r.smolplug_1t.ms_per_img
    floor = r.row("floor: simplejpeg scaled decode only").ms_per_img
    batch1 = r.row("smolplug batch, 1 thread(s)").ms_per_img
    two = next((x.ms_per_img for x in r.rows if x.name == "smolplug batch, 2 thread(s)"), None)
    out = {"vs_best_peer": r.best_peer().ms_per_img / one}  # type: ignore[operator]
    if floor:
        out["vs_floor"] = floor / one  # type: ignore[operator]
    if two:
        out["2_threads_vs_1"] = batch1 / two  # type: ignore[operator]
    return out
