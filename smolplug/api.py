"""Hook-backed entry points for hosts: open frames, make executors."""

from __future__ import annotations

from typing import Any

import pluggy

from .execute.executors import Executor
from .frames.readers import FrameReader, FrameRequest
from .plugins.manager import first_result


def open_frames(source: Any, request: FrameRequest, *, pm: pluggy.PluginManager | None = None) -> FrameReader:
    """Ask the plugins for a reader of ``source``; raises PluginError when none serves it."""
    return first_result("smolplug_open_frames", pm, source=source, request=request)


def make_executor(
    model: Any, device: str = "auto", *, pm: pluggy.PluginManager | None = None, **options: Any
) -> Executor:
    """Ask the plugins for an executor of ``model`` on ``device``."""
    return first_result("smolplug_make_executor", pm, model=model, device=device, options=options)


def estimate_cost(
    stages: Any, cores: int, model: str = "pipeline", *, pm: pluggy.PluginManager | None = None
) -> Any:
    """Predicted throughput of a pipeline of measured stages (see :mod:`smolplug.plan.costmodel`)."""
    return first_result("smolplug_estimate_cost", pm, stages=stages, cores=cores, model=model)


def select_plan(
    candidates: Any,
    target: float,
    cores: int,
    model: str = "pipeline",
    *,
    pm: pluggy.PluginManager | None = None,
) -> Any:
    """The fastest candidate plan meeting ``target`` (raises PlanError when none does)."""
    return first_result(
        "smolplug_select_plan", pm, candidates=candidates, target=target, cores=cores, model=model
    )
