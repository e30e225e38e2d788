"""Calibration: measure, on this machine, how fast each stage of a plan runs.

Preprocessing throughput is measured per (source, decode mode, output size, threads) by reading
frames through ``smolplug_open_frames``; DNN throughput per (model, input size, batch size,
executor, threads) by running batches through ``smolplug_make_executor``. Results go into a
:class:`Profile` cached as JSON under the cache directory, keyed by the hardware and library
versions (a new CPU, a new libjpeg-turbo/FFmpeg/torch means a new profile); entries already
measured are reused, so calibrating again is free unless ``force`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from .costmodel import Stage

PROFILE_VERSION = 2  # 2: DNN rates measured on random inputs (zeros ran up to 1.6x faster)
DECODE_MODES = ("full", "reduced")  #: full resolution, or DCT scaling / renditions / lowres


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """What a measurement depends on: CPU, usable cores, and the libraries doing the work."""
    from .. import __version__
    from ..jpeg.decode import backend

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return {
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": cores,
        "python": platform.python_version(),
        "smolplug": __version__,
        "jpeg_backend": backend(),
        **{
            name: _version(name) for name in ("av", "numpy", "torch", "onnxruntime", "opencv-python-headless")
        },
    }


def profile_key(env: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Profile:
    """Measured rates (items/s) by entry and thread count, for one machine + library set."""

    env: dict[str, Any]
    entries: dict[str, dict[str, float]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def key(self) -> str:
        return profile_key(self.env)

    @classmethod
    def load(cls, directory: Path | None = None, env: dict[str, Any] | None = None) -> Profile:
        """This machine's profile from the cache (empty when missing, stale or unreadable)."""
        from ..cache import cache_dir

        env = env or environment()
        path = (directory or cache_dir()) / f"calibration-{profile_key(env)}.json"
        try:
            data = json.loads(path.read_text())
            if data.get("version") == PROFILE_VERSION and data.get("env") == env:
                return cls(env, {k: dict(v) for k, v in data["entries"].items()}, path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return cls(env, {}, path)

    def save(self) -> Path:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"version": PROFILE_VERSION, "env": self.env, "entries": self.entries}, indent=1)
        )
        tmp.replace(self.path)
        return self.path

    def rates(self, entry: str) -> dict[int, float]:
        return {int(k): float(v) for k, v in self.entries.get(entry, {}).items()}

    def stage(self, name: str, entry: str) -> Stage:
        """The measured entry as a cost-model stage (KeyError when it was not measured)."""
        rates = self.rates(entry)
        if not rates:
            raise KeyError(f"{entry!r} is not in the calibration profile (run smolplug calibrate)")
        return Stage(name, rates)

    def measure(self, entry: str, threads: int, fn: Callable[[], float], *, force: bool = False) -> float:
        """The rate of ``entry`` at ``threads``: cached, or ``fn()`` measured now and recorded."""
        cached = self.entries.get(entry, {}).get(str(threads))
        if cached is not None and not force:
            return float(cached)
        rate = float(fn())
        self.entries.setdefault(entry, {})[str(threads)] = rate
        return rate


def timed_rate(run: Callable[[], int], seconds: float, rounds: int = 3) -> float:
    """Best items/s over ``rounds``, each repeating ``run()`` (returning items done) for at least
    ``seconds / rounds``; one warm-up call first."""
    run()
    best = 0.0
    budget = seconds / rounds
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            n += run()
            dt = time.perf_counter() - t0
            if dt >= budget:
                break
        best = max(best, n / dt)
    return best


# -- entries -----------------------------------------------------------------------------------
def decode_entry(source: str | os.PathLike[str], mode: str, height: int, width: int) -> str:
    return f"decode|{Path(source).name}|{mode}|{height}x{width}"


def dnn_entry(model: str, height: int, width: int, batch: int, executor: str) -> str:
    return f"dnn|{model}|{height}x{width}|b{batch}|{executor}"


def measure_preprocessing(
    source: Any,
    height: int,
    width: int,
    *,
    mode: str = "reduced",
    threads: int = 1,
    frames: Sequence[int] | None = None,
    seconds: float = 0.6,
    max_video_frames: int = 150,
    spec: Any = None,
    headroom: float | None = None,
) -> float:
    """Frames/s for reading ``frames`` of ``source`` (JPEG files/folder or a video) into
    ``height`` x ``width`` normalised float32 NCHW with ``threads`` decoding threads. For a
    video, ``frames=None`` means its first ``max_video_frames`` frames (a short measurement).
    ``spec`` overrides the output (its size should be ``height`` x ``width``); ``headroom``
    overrides the mode's scale headroom (see :func:`smolplug.decode_jpeg`)."""
    from ..api import open_frames
    from ..frames.readers import VIDEO_SUFFIXES, FrameRequest
    from ..request.spec import IMAGENET_MEAN, IMAGENET_STD, FrameSpec

    if mode not in DECODE_MODES:
        raise ValueError(f"mode must be one of {DECODE_MODES}, got {mode!r}")
    spec = spec or FrameSpec(height, width, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if frames is None and Path(source).suffix.lower() in VIDEO_SUFFIXES and Path(source).is_file():
        from ..video import load_index

        frames = range(min(load_index(source).n_frames, max_video_frames))
    req = FrameRequest(
        spec,
        batch_size=32,
        frames=frames,
        threads=threads,
        scale_headroom=headroom if headroom is not None else float("inf") if mode == "full" else 1.0,
    )

    def run() -> int:
        with open_frames(source, req) as reader:
            return sum(len(b) for b in reader)

    return timed_rate(run, seconds)


def dnn_input(shape: tuple[int, ...]) -> np.ndarray:
    """A batch to time a model on: normalised-image-like values (standard normal, fixed seed).
    Not zeros: a small CNN ran 1.6x faster on zeros than on real frames on this machine's CPU
    (activations that stay zero after the first ReLU are cheaper downstream)."""
    return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def measure_dnn(
    model: Any,
    height: int,
    width: int,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    threads: int = 1,
    seconds: float = 0.6,
) -> float:
    """Items/s of ``model`` on zero-filled (batch, 3, height, width) float32 batches, through the
    executor ``smolplug_make_executor`` gives for ``device``."""
    from ..api import make_executor

    x = dnn_input((batch_size, 3, height, width))
    with make_executor(model, device, threads=threads) as ex:
        return timed_rate(lambda: (ex.run(x), batch_size)[1], seconds)


def sample_folder() -> Path:
    """The built-in sample JPEGs written once into the cache (the default calibration source)."""
    from ..cache import cache_dir
    from ..jpeg.samples import sample_jpegs

    d = cache_dir() / "samples"
    files = sample_jpegs()
    if not all((d / name).is_file() for name, _ in files):
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            (d / name).write_bytes(data)
    return d


def load_model(spec: str) -> tuple[str, Any]:
    """``[NAME=]module:attr`` -> (NAME, model); a class or function attr is a factory and is
    called to build the model. NAME defaults to attr."""
    import importlib
    import inspect

    name, sep, target = spec.partition("=")
    if not sep:
        name, target = spec.rpartition(":")[2], spec
    if ":" not in target:
        raise ValueError(f"--model wants [NAME=]module:attr, got {spec!r}")
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if inspect.isclass(obj) or inspect.isfunction(obj):  # a factory: build the model
        obj = obj()
    return name, obj


def calibrate(
    profile: Profile,
    sources: Sequence[Any],
    sizes: Sequence[int],
    threads: Sequence[int],
    *,
    modes: Sequence[str] = DECODE_MODES,
    models: Sequence[tuple[str, Any]] = (),
    batch_size: int = 64,
    seconds: float = 0.6,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[tuple[str, int, float]]:
    """Measure every (source, mode, size, threads) and (model, size, threads) not yet in
    ``profile`` (all of them with ``force``); returns (entry, threads, items/s) rows."""
    rows = []
    for src in sources:
        for mode in modes:
            for s in sizes:
                for t in threads:
                    entry = decode_entry(src, mode, s, s)
                    if progress:
                        progress(f"{entry} @{t}T")
                    rate = profile.measure(
                        entry,
                        t,
                        lambda src=src, mode=mode, s=s, t=t: measure_preprocessing(
                            src, s, s, mode=mode, threads=t, seconds=seconds
                        ),
                        force=force,
                    )
                    rows.append((entry, t, rate))
    for name, model in models:
        for s in sizes:
            for t in threads:
                entry = dnn_entry(name, s, s, batch_size, "cpu")
                if progress:
                    progress(f"{entry} @{t}T")
                rate = profile.measure(
                    entry,
                    t,
                    lambda model=model, s=s, t=t: measure_dnn(
                        model, s, s, batch_size=batch_size, threads=t, seconds=seconds
                    ),
                    force=force,
                )
                rows.append((entry, t, rate))
    return rows
