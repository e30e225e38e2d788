"""Hook specifications of the ``smolplug`` pluggy project.

Every hook is ``firstresult``: the first implementation returning something other
than None wins. smolplug's own defaults live with the stage each serves
(``smolplug/frames/plugin.py``, ``smolplug/execute/plugin.py``, ``smolplug/plan/plugin.py``)
and are registered ``trylast``, so any plugin overrides them without unregistering anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ..execute.executors import Executor
    from ..frames.readers import FrameReader, FrameRequest
    from ..plan.costmodel import Choice, Estimate, Plan, Stage

hookspec = pluggy.HookspecMarker("smolplug")
hookimpl = pluggy.HookimplMarker("smolplug")


@hookspec(firstresult=True)
def smolplug_open_frames(source: Any, request: FrameRequest) -> FrameReader | None:
    """Open a frame source and return a reader that yields batches shaped by ``request``.

    :param source: what the host wants frames from: a path (file or directory), a
        list of paths, or any object a plugin understands (a database handle, a URL).
    :param request: which frames, and the :class:`~smolplug.FrameSpec` and batch size
        they are delivered in.
    :return: a :class:`~smolplug.frames.readers.FrameReader`, or None to defer to the next
        implementation (for a source this plugin does not serve).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def smolplug_make_executor(model: Any, device: str, options: dict[str, Any]) -> Executor | None:
    """Wrap ``model`` in an executor that runs batches on ``device``.

    :param model: the model object (a ``torch.nn.Module``, a plain callable on numpy
        batches, an ONNX path, ...).
    :param device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    :param options: executor options (precision, batch size, ...); unknown keys are
        ignored by implementations that do not use them.
    :return: an :class:`~smolplug.execute.executors.Executor`, or None to defer (for a model
        type or device this plugin does not handle).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def smolplug_estimate_cost(stages: Sequence[Stage], cores: int, model: str) -> Estimate | None:
    """Predict the end-to-end throughput of a pipeline of measured stages.

    :param stages: :class:`~smolplug.plan.costmodel.Stage` objects (decode, copy, dnn, ...), each
        with measured items/s per number of CPU cores (or one fixed rate for non-CPU stages).
    :param cores: CPU cores the pipeline may use.
    :param model: ``"pipeline"`` (stages run concurrently and share the cores: the slowest
        stage at the best core split) or ``"dnn-only"`` (NoScope's: the DNN stage alone).
    :return: an :class:`~smolplug.plan.costmodel.Estimate`, or None to defer (for a model name
        this plugin does not implement).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def smolplug_select_plan(candidates: Sequence[Plan], target: float, cores: int, model: str) -> Choice | None:
    """Choose how to run a query: the fastest candidate plan that meets the accuracy target.

    :param candidates: :class:`~smolplug.plan.costmodel.Plan` objects (proxy model x input size x
        decode mode), each with its accuracy measured on a labelled validation sample and its
        measured stages.
    :param target: the minimum accuracy.
    :param cores: CPU cores the pipeline may use.
    :param model: the cost model to rank plans by (see ``smolplug_estimate_cost``).
    :return: a :class:`~smolplug.plan.costmodel.Choice` (chosen plan, its estimate, the Pareto
        frontier), or None to defer; raises :class:`~smolplug.plan.costmodel.PlanError` when no
        plan reaches the target.

    Stops at first non-None result.
    """
