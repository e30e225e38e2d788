"""Default ``smolplug_estimate_cost`` / ``smolplug_select_plan``: the pipelined cost model of
:mod:`smolplug.plan.costmodel` (and NoScope's DNN-only model under the name "dnn-only")."""

from __future__ import annotations

from collections.abc import Sequence

from ..plugins.hookspecs import hookimpl
from .costmodel import Choice, Estimate, Plan, Stage, dnn_only_throughput, pipeline_throughput, select_plan

MODELS = {"pipeline": pipeline_throughput, "dnn-only": dnn_only_throughput}


@hookimpl(trylast=True)
def smolplug_estimate_cost(stages: Sequence[Stage], cores: int, model: str) -> Estimate | None:
    fn = MODELS.get(model)
    return fn(stages, cores) if fn else None


@hookimpl(trylast=True)
def smolplug_select_plan(candidates: Sequence[Plan], target: float, cores: int, model: str) -> Choice | None:
    if model not in MODELS:
        return None
    return select_plan(candidates, target, cores, model=model)
