"""Preprocessing-aware cost model and plan selection.

A query plan (proxy model x input resolution x decode mode) runs as a pipeline: frames are
decoded and preprocessed, (copied to the accelerator,) and classified, all at once. Its
end-to-end throughput is the slowest stage's, where the CPU stages *share* the machine's cores:
a plan whose DNN is cheap but whose preprocessing is not is preprocessing-bound, and the plain
DNN-only estimate (NoScope's cost model) overrates it.

A :class:`Stage` is described by measured throughputs (items/s) per number of cores it is given
(from calibration); stages that do not use CPU cores (a GPU, the host-to-device copy) have one
fixed rate. :func:`pipeline_throughput` searches the integer core splits for the best bottleneck.

A query does not end with the proxy: frames the proxy cannot settle go to the reference model
(NoScope's cascade, BlazeIt's sampling and ranked search), and a weaker proxy sends more. A
:class:`Plan` may therefore carry the items one query puts through the pipeline and its expected
reference-model calls at their measured cost; plans are then ranked by predicted seconds per
query (:meth:`Plan.seconds`), pipeline and reference calls together.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SmolplugError


class PlanError(SmolplugError, ValueError):
    """No candidate plan meets the accuracy target, or a plan/profile is malformed."""


@dataclass(frozen=True)
class Stage:
    """One pipeline stage.

    :param name: "decode", "dnn", "copy", ...
    :param rates: measured items/s by number of CPU cores given to the stage (``{1: 410.0,
        2: 790.0}``); for a stage that uses no CPU cores (GPU inference, PCIe copy), one entry
        under key 0: ``{0: 12000.0}``.
    """

    name: str
    rates: Mapping[int, float]

    def __post_init__(self) -> None:
        if not self.rates:
            raise PlanError(f"stage {self.name!r} has no measured rate")
        for k, v in self.rates.items():
            if not isinstance(k, int) or k < 0 or not (v > 0 and math.isfinite(v)):
                raise PlanError(f"stage {self.name!r}: bad rate {k!r}: {v!r}")
        if 0 in self.rates and len(self.rates) > 1:
            raise PlanError(f"stage {self.name!r}: a fixed-rate stage (key 0) has one rate")

    @property
    def uses_cores(self) -> bool:
        return 0 not in self.rates

    def rate(self, cores: int) -> float:
        """Items/s with ``cores`` cores: measured, else linear between measured counts, capped at
        the largest measured count (no extrapolation beyond what was seen)."""
        if not self.uses_cores:
            return float(self.rates[0])
        if cores <= 0:
            return 0.0
        known = sorted(self.rates)
        if cores in self.rates:
            return float(self.rates[cores])
        if cores > known[-1]:
            return float(self.rates[known[-1]])
        lo = max((k for k in known if k < cores), default=0)
        hi = min(k for k in known if k > cores)
        r_lo = self.rates[lo] if lo else self.rates[hi] * cores / hi
        return float(r_lo + (self.rates[hi] - r_lo) * (cores - lo) / (hi - lo))


@dataclass(frozen=True)
class Estimate:
    """Predicted end-to-end throughput of a pipeline, and why."""

    throughput: float  #: items/s
    bottleneck: str  #: the stage that limits it
    split: dict[str, int] = field(default_factory=dict)  #: CPU cores per stage
    stage_rates: dict[str, float] = field(default_factory=dict)  #: each stage's rate at that split
    model: str = "pipeline"
    work: float = 0.0  #: CPU core-seconds per item summed over the CPU stages at that split


def pipeline_throughput(stages: Sequence[Stage], cores: int) -> Estimate:
    """Best bottleneck throughput over the integer splits of ``cores`` among the CPU stages
    (each CPU stage gets at least one core; fixed-rate stages cap the result)."""
    if not stages:
        raise PlanError("a pipeline needs at least one stage")
    cpu = [s for s in stages if s.uses_cores]
    fixed = [s for s in stages if not s.uses_cores]
    if len(cpu) > cores:
        raise PlanError(f"{len(cpu)} CPU stages cannot each get a core of {cores}")
    best: Estimate | None = None
    for split in _splits(cores, len(cpu)):
        rates = {s.name: s.rate(n) for s, n in zip(cpu, split, strict=True)}
        rates.update({s.name: s.rate(0) for s in fixed})
        name = min(rates, key=rates.__getitem__)
        work = sum(n / rates[s.name] for s, n in zip(cpu, split, strict=True))
        est = Estimate(
            rates[name], name, {s.name: n for s, n in zip(cpu, split, strict=True)}, rates, work=work
        )
        if best is None or (est.throughput, -est.work) > (best.throughput, -best.work):
            best = est
    assert best is not None
    return best


def dnn_only_throughput(stages: Sequence[Stage], cores: int, dnn: str = "dnn") -> Estimate:
    """NoScope's model: the DNN stage alone, with every core (preprocessing assumed free)."""
    for s in stages:
        if s.name == dnn:
            r = s.rate(cores if s.uses_cores else 0)
            work = cores / r if s.uses_cores else 0.0
            return Estimate(
                r, dnn, {dnn: cores} if s.uses_cores else {}, {dnn: r}, model="dnn-only", work=work
            )
    raise PlanError(f"no stage named {dnn!r}")


def _splits(cores: int, parts: int) -> Any:
    if parts == 0:
        yield ()
        return
    for cut in itertools.combinations(range(1, cores), parts - 1):
        bounds = (0, *cut, cores)
        yield tuple(b - a for a, b in itertools.pairwise(bounds))
    # fewer cores than available can never be better (rates do not fall with more cores)


# -- plans -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A candidate way to run a query: which proxy model at which input size, decoded how."""

    name: str
    accuracy: float  #: measured on a labelled validation sample (higher is better)
    stages: tuple[Stage, ...]
    params: Mapping[str, Any] = field(default_factory=dict)  #: model, size, decode mode, ...
    items: int = 0  #: items one query puts through the stages (0: rank by throughput alone)
    reference_calls: float = 0.0  #: expected reference-model calls per query (the proxy decides)
    reference_seconds: float = 0.0  #: measured seconds per reference-model call

    def __post_init__(self) -> None:
        if not (isinstance(self.items, int) and self.items >= 0):
            raise PlanError(f"plan {self.name!r}: items must be a count >= 0, got {self.items!r}")
        for what in ("reference_calls", "reference_seconds"):
            v = getattr(self, what)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise PlanError(f"plan {self.name!r}: {what} must be a finite number >= 0, got {v!r}")

    def seconds(self, estimate: Estimate) -> float:
        """Predicted seconds per query: its items through the pipeline at ``estimate``'s
        throughput, plus its expected reference-model calls at their cost."""
        pipeline = self.items / estimate.throughput if self.items else 0.0
        return pipeline + self.reference_calls * self.reference_seconds


@dataclass(frozen=True)
class Choice:
    plan: Plan
    estimate: Estimate
    frontier: list[tuple[Plan, Estimate]]  #: Pareto-optimal (accuracy vs throughput), fastest first
    estimates: dict[str, Estimate]  #: every candidate's estimate, by plan name
    seconds: dict[str, float] = field(default_factory=dict)  #: every candidate's Plan.seconds


def pareto_frontier(items: Sequence[tuple[Plan, Estimate]]) -> list[tuple[Plan, Estimate]]:
    """Plans no other plan beats on both accuracy and throughput, fastest first."""
    ordered = sorted(items, key=lambda pe: (-pe[1].throughput, -pe[0].accuracy))
    out: list[tuple[Plan, Estimate]] = []
    best_acc = -math.inf
    for plan, est in ordered:
        if plan.accuracy > best_acc:
            out.append((plan, est))
            best_acc = plan.accuracy
    return out


def select_plan(candidates: Sequence[Plan], target: float, cores: int, *, model: str = "pipeline") -> Choice:
    """The fastest plan whose accuracy is at least ``target``, by ``model`` ("pipeline" or
    "dnn-only"); raises :class:`PlanError` naming the best accuracy seen when none reaches it.

    Fastest means the fewest predicted seconds per query (:meth:`Plan.seconds`: the pipeline
    and the expected reference-model calls) for plans that carry them, then the highest
    throughput: a proxy that decodes a little slower but sends fewer frames to the reference
    model wins when those calls cost more than the decoding it adds.

    Plans bottlenecked by the same stage (the same decoding under different DNNs) tie exactly;
    the tie goes to the plan doing less CPU work per item (:attr:`Estimate.work`: its other
    stages leave more slack, and on a small machine a busier neighbour stage slows the
    bottleneck — measured: the wider of two "free" proxies ran 23% slower), then to accuracy."""
    if not candidates:
        raise PlanError("no candidate plans")
    estimate = pipeline_throughput if model == "pipeline" else dnn_only_throughput
    if model not in ("pipeline", "dnn-only"):
        raise PlanError(f"unknown cost model {model!r} (pipeline, dnn-only)")
    items = [(p, estimate(p.stages, cores)) for p in candidates]
    ok = [(p, e) for p, e in items if p.accuracy >= target]
    if not ok:
        best = max(candidates, key=lambda p: p.accuracy)
        raise PlanError(
            f"no plan reaches accuracy {target:g}: the best is {best.name!r} at {best.accuracy:g}"
        )
    plan, est = min(ok, key=lambda pe: (pe[0].seconds(pe[1]), -pe[1].throughput, pe[1].work, -pe[0].accuracy))
    return Choice(
        plan,
        est,
        pareto_frontier(items),
        {p.name: e for p, e in items},
        {p.name: p.seconds(e) for p, e in items},
    )
