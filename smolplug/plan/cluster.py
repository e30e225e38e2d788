"""Costing a plan on a Ray cluster: decode tasks and inference actors sharing its cores.

On Ray Data a plan runs as two pools: read tasks (one core each, one process each: they scale by
count, :mod:`smolplug.ray`) and an actor pool for the model (each actor ``t`` cores, on one node).
Frames stream from the tasks to the actors through the object store. Its throughput is the
slowest of:

* decoding: ``d`` tasks x the calibrated one-core decode rate (slowed by a fixed per-task cost
  over the frames a task delivers, when given);
* inference: ``a`` actors x the calibrated rate of the model on ``t`` threads;
* storage: nodes x read bandwidth per node / bytes read per frame;
* the object store: nodes x bandwidth per node / bytes of one frame tensor;

with ``d + a * t`` cores in all, and each node holding whole actors. :func:`ray_pipeline` tries
every actor size the profile has and every split, and keeps the fastest (then the one using the
fewest cores).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from .costmodel import Estimate, PlanError, Stage


@dataclass(frozen=True)
class RayEstimate:
    """The best split of a cluster between decode tasks and inference actors."""

    throughput: float  #: frames/s
    bottleneck: str  #: "decode", "dnn", "storage" or "object store"
    decode_tasks: int  #: concurrent read tasks (one core each)
    actors: int
    actor_threads: int
    stage_rates: dict[str, float] = field(default_factory=dict)  #: each stage's frames/s at the split

    @property
    def cores(self) -> int:
        return self.decode_tasks + self.actors * self.actor_threads

    def estimate(self) -> Estimate:
        """As the cost model's :class:`~smolplug.plan.costmodel.Estimate` (``model="ray"``)."""
        return Estimate(
            self.throughput,
            self.bottleneck,
            {"decode": self.decode_tasks, "dnn": self.actors * self.actor_threads},
            dict(self.stage_rates),
            model="ray",
        )


def ray_pipeline(
    decode: Stage,
    dnn: Stage,
    nodes: int,
    cores_per_node: int,
    *,
    task_overhead_s: float = 0.0,
    frames_per_task: float = math.inf,
    read_bytes_per_frame: float = 0.0,
    storage_bytes_s: float | None = None,
    frame_bytes: float = 0.0,
    object_store_bytes_s: float | None = None,
    accelerators_per_node: int = 1,
) -> RayEstimate:
    """Best frames/s of decode tasks + inference actors on ``nodes`` x ``cores_per_node`` cores.

    :param decode: measured decode+preprocess rates (its one-core rate is a task's).
    :param dnn: measured model rates by threads (an actor's), or one fixed rate (key 0: an
        accelerator per actor, no cores).
    :param task_overhead_s: fixed seconds per read task (scheduling, opening the file, seeking).
    :param frames_per_task: frames one read task delivers.
    :param storage_bytes_s, object_store_bytes_s: per node; None: not a limit.
    :param accelerators_per_node: actors of a fixed-rate (accelerator) model: one per accelerator.
    """
    if nodes < 1 or cores_per_node < 1:
        raise PlanError(f"a cluster needs nodes >= 1 and cores >= 1, got {nodes} x {cores_per_node}")
    per_frame = 1 / decode.rate(1) + (task_overhead_s / frames_per_task if task_overhead_s else 0.0)
    task_rate = 1 / per_frame
    caps = {}
    if storage_bytes_s and read_bytes_per_frame:
        caps["storage"] = nodes * storage_bytes_s / read_bytes_per_frame
    if object_store_bytes_s and frame_bytes:
        caps["object store"] = nodes * object_store_bytes_s / frame_bytes
    total = nodes * cores_per_node
    sizes = sorted(t for t in dnn.rates if t <= cores_per_node) if dnn.uses_cores else [0]
    if not sizes:
        raise PlanError(f"no measured model rate fits a node of {cores_per_node} cores")
    best: RayEstimate | None = None
    for t in sizes:
        # an accelerator actor holds no cores: one per accelerator
        first, most = (1, nodes * (cores_per_node // t)) if t else (nodes * accelerators_per_node,) * 2
        for a in range(first, most + 1):
            d = total - a * t if t else total
            if d < 1:
                break
            rates = {**caps, "decode": d * task_rate, "dnn": a * dnn.rate(t)}  # ties: the cap
            name = min(rates, key=rates.__getitem__)
            est = RayEstimate(rates[name], name, d, a, t, rates)
            if best is None or (est.throughput, -est.cores) > (best.throughput, -best.cores):
                best = est
    assert best is not None
    return best


def scale_out(
    decode: Stage, dnn: Stage, node_counts: list[int], cores_per_node: int, frames: float, **limits: float
) -> list[tuple[int, RayEstimate, float]]:
    """(nodes, estimate, hours for ``frames``) for each cluster size: a query's wall time."""
    out = []
    for n in node_counts:
        est = ray_pipeline(decode, dnn, n, cores_per_node, **limits)  # type: ignore[arg-type]
        out.append((n, est, frames / est.throughput / 3600))
    return out


def ray_rows(plans: list, nodes: int, cores_per_node: int, **limits: float) -> list[tuple]:
    """(plan, :class:`RayEstimate`) for plans of two stages (decode, dnn), as ``smolplug plan``
    measures them."""
    return [(p, ray_pipeline(p.stages[0], p.stages[-1], nodes, cores_per_node, **limits)) for p in plans]


def bytes_per_frame(source: str | os.PathLike[str]) -> float:
    """Bytes read from storage per frame: a video's size over its frames, a folder's mean JPEG."""
    from pathlib import Path

    p = Path(source)
    if p.is_dir():
        sizes = [f.stat().st_size for f in p.glob("*.jpg")]
        return sum(sizes) / max(len(sizes), 1)
    from ..video import load_index

    return p.stat().st_size / max(load_index(p).n_frames, 1)
