"""Choosing the plan: which model, input size and decode mode run a query fastest.

Enters: candidate plans (proxy model x input resolution x decode mode, each with a measured
accuracy), the machine's measured stage rates (``calibrate``: decode, preprocessing, DNN per
core), an accuracy target.
Leaves: a :class:`Choice` (the plan, its pipelined throughput :class:`Estimate`, the Pareto
frontier) through the ``smolplug_estimate_cost`` / ``smolplug_select_plan`` hooks (default
plugin: :mod:`smolplug.plan.plugin`). Also here: ``planning`` (build and report plans for a
folder or video), ``finetune`` (low-resolution fine-tuning), ``zoo`` (packaged models).
"""

from .costmodel import (
    Choice,
    Estimate,
    Plan,
    PlanError,
    Stage,
    dnn_only_throughput,
    pareto_frontier,
    pipeline_throughput,
    select_plan,
)

__all__ = [
    "Choice",
    "Estimate",
    "Plan",
    "PlanError",
    "Stage",
    "dnn_only_throughput",
    "pareto_frontier",
    "pipeline_throughput",
    "select_plan",
]
