"""``smolplug plan``: candidate plans (model x input size x decode mode) for an image folder or
a video, each with its accuracy on a validation sample and its stages measured on this machine
(through the calibration profile), the Pareto frontier, the fastest plan at the accuracy target,
and the plan NoScope's DNN-only cost model would choose.

For a folder every JPEG is the sample (labels from file names when every name carries one). For
a video the plan is a scan of every frame: the decode stage is measured on consecutive frames,
accuracy on ``sample`` evenly spaced frames, as agreement with the first model at the largest
size on full-resolution decoding (videos carry no labels)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..request.spec import FrameSpec
from .calibrate import Profile, decode_entry, dnn_entry, measure_dnn, measure_preprocessing
from .costmodel import Choice, Plan, select_plan
from .zoo import input_fields

LABEL_RE = re.compile(r"_(\d+)$")


def filename_labels(files: Sequence[Path]) -> np.ndarray | None:
    """Class indices from names like ``imagenet_07_609.jpg`` (None unless every file has one)."""
    out = []
    for f in files:
        m = LABEL_RE.search(f.stem)
        if not m:
            return None
        out.append(int(m.group(1)))
    return np.asarray(out)


@dataclass(frozen=True)
class Sample:
    """What plans are measured on: JPEG files, or frames of one video."""

    source: Path  #: the folder or the video
    files: tuple[Path, ...] = ()
    frames: tuple[int, ...] = ()

    @property
    def is_video(self) -> bool:
        return not self.files


def sample_of(source: Path, sample: int = 200) -> Sample:
    """Every JPEG of a folder, or ``sample`` evenly spaced frames of a video."""
    from ..frames.readers import VIDEO_SUFFIXES

    source = Path(source)
    if source.is_dir():
        files = tuple(sorted(source.glob("*.jpg")))
        if not files:
            raise FileNotFoundError(f"no .jpg files in {source}")
        return Sample(source, files=files)
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        from ..video import load_index

        n = load_index(source).n_frames
        frames = np.unique(np.linspace(0, n - 1, min(sample, n)).round().astype(int))
        return Sample(source, frames=tuple(int(f) for f in frames))
    raise FileNotFoundError(f"{source} is neither a folder of JPEGs nor a video file")


def read_inputs(sample: Sample, spec: FrameSpec, mode: str) -> np.ndarray:
    """The sample decoded as ``spec``: ``mode`` "full" decodes at full resolution first,
    "reduced" as cheaply as the spec allows (DCT scaling, renditions, decoder low-res)."""
    from ..api import open_frames
    from ..frames.readers import FrameRequest

    headroom = float("inf") if mode == "full" else 1.0
    if not sample.is_video:
        from ..jpeg.decode import decode_jpeg_batch

        return decode_jpeg_batch([f.read_bytes() for f in sample.files], spec, scale_headroom=headroom).data
    req = FrameRequest(spec, batch_size=32, frames=sample.frames, scale_headroom=headroom)
    with open_frames(str(sample.source), req) as reader:  # raises on any frame not delivered
        return np.concatenate([b.data[: len(b)].copy() for b in reader])


def predict(model: Any, sample: Sample, spec: FrameSpec, mode: str) -> np.ndarray:
    """Top-1 class of every sample item with ``model`` on inputs decoded as ``spec`` / ``mode``."""
    from ..api import make_executor
    from ..execute.executors import is_torch_module

    x = read_inputs(sample, spec, mode)
    with make_executor(model, "cpu", backend="torch" if is_torch_module(model) else "auto") as ex:
        return np.asarray(ex.run(x)).argmax(axis=1)


@dataclass
class PlanReport:
    candidates: list[Plan]
    choice: Choice
    dnn_only: Choice | None  #: None when the DNN-only model finds nothing at the target either
    target: float
    cores: int


def build_plans(
    source: Path,
    models: Sequence[tuple[str, Any]],
    sizes: Sequence[int],
    modes: Sequence[str],
    profile: Profile,
    *,
    cores: int,
    labels: np.ndarray | None = None,
    seconds: float = 0.5,
    sample: int = 200,
    progress: Callable[[str], None] | None = None,
) -> list[Plan]:
    """One plan per (model, size, mode) for ``source`` (a JPEG folder or a video)."""
    items = sample_of(source, sample)
    if labels is None and not items.is_video:
        labels = filename_labels(items.files)
    ref = None
    if labels is None:  # no labels: agreement with the first model at the largest size, full decode
        name, model = models[0]
        s = max(sizes)
        ref = predict(
            model, items, FrameSpec.imagenet(s, round(s * 256 / 224), **input_fields(model)), "full"
        )
        labels = ref
    plans = []
    threads = range(1, cores + 1)
    for name, model in models:
        fields = input_fields(model)
        for s in sizes:
            spec = FrameSpec.imagenet(s, round(s * 256 / 224), **fields)
            dnn = dnn_entry(name, s, s, 32, "cpu")
            for t in threads:
                if progress:
                    progress(f"{dnn} @{t}T")
                profile.measure(
                    dnn,
                    t,
                    lambda m=model, s=s, t=t: measure_dnn(m, s, s, batch_size=32, threads=t, seconds=seconds),
                )
            for mode in modes:
                dec = decode_entry(source, mode, s, s)
                for t in threads:
                    if progress:
                        progress(f"{dec} @{t}T")
                    profile.measure(
                        dec,
                        t,
                        lambda s=s, t=t, mode=mode, spec=spec: measure_preprocessing(
                            source, s, s, mode=mode, threads=t, seconds=seconds, spec=spec
                        ),
                    )
                if progress:
                    progress(f"accuracy {name}@{s} {mode}")
                acc = float((predict(model, items, spec, mode) == labels).mean())
                plans.append(
                    Plan(
                        f"{name}@{s}-{mode}",
                        acc,
                        (profile.stage("decode", dec), profile.stage("dnn", dnn)),
                        {
                            "model": name,
                            "size": s,
                            "mode": mode,
                            "labels": "reference" if ref is not None else "files",
                        },
                    )
                )
    return plans


def report(plans: Sequence[Plan], target: float, cores: int) -> PlanReport:
    from .costmodel import PlanError

    choice = select_plan(plans, target, cores)
    try:
        naive = select_plan(plans, target, cores, model="dnn-only")
    except PlanError:
        naive = None
    return PlanReport(list(plans), choice, naive, target, cores)


def write_png(rep: PlanReport, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = rep.choice.estimates
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [est[p.name].throughput for p in rep.candidates]
    ys = [p.accuracy for p in rep.candidates]
    ax.scatter(xs, ys, color="0.6", label="candidate plans")
    for p, x, y in zip(rep.candidates, xs, ys, strict=True):
        ax.annotate(p.name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    fr = rep.choice.frontier
    ax.plot(
        [e.throughput for _, e in fr],
        [p.accuracy for p, _ in fr],
        "-o",
        color="tab:blue",
        label="Pareto frontier",
    )
    ax.axhline(rep.target, color="tab:red", ls="--", lw=1, label=f"accuracy target {rep.target:g}")
    c = rep.choice
    ax.scatter(
        [c.estimate.throughput],
        [c.plan.accuracy],
        marker="*",
        s=260,
        color="tab:green",
        zorder=5,
        label=f"chosen: {c.plan.name}",
    )
    if rep.dnn_only is not None:
        p = rep.dnn_only.plan
        ax.scatter(
            [est[p.name].throughput],
            [p.accuracy],
            marker="X",
            s=140,
            color="tab:orange",
            zorder=5,
            label=f"DNN-only model's choice: {p.name}",
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"predicted end-to-end throughput, frames/s ({rep.cores} cores, pipelined)")
    ax.set_ylabel("accuracy on the validation sample")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
