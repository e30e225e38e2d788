"""Hook specifications of the ``smolplug`` pluggy project.

Every hook is ``firstresult``: the first implementation returning something other
than None wins. smolplug's own defaults (``smolplug/default_*.py``) are registered
``trylast``, so any plugin overrides them without unregistering anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .executors import Executor
    from .readers import FrameReader, FrameRequest

hookspec = pluggy.HookspecMarker("smolplug")
hookimpl = pluggy.HookimplMarker("smolplug")


@hookspec(firstresult=True)
def smolplug_open_frames(source: Any, request: FrameRequest) -> FrameReader | None:
    """Open a frame source and return a reader that yields batches shaped by ``request``.

    :param source: what the host wants frames from: a path (file or directory), a
        list of paths, or any object a plugin understands (a database handle, a URL).
    :param request: which frames, and the :class:`~smolplug.FrameSpec` and batch size
        they are delivered in.
    :return: a :class:`~smolplug.readers.FrameReader`, or None to defer to the next
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
    :return: an :class:`~smolplug.executors.Executor`, or None to defer (for a model
        type or device this plugin does not handle).

    Stops at first non-None result.
    """
