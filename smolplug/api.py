"""Hook-backed entry points for hosts: open frames, make executors."""

from __future__ import annotations

from typing import Any

import pluggy

from .executors import Executor
from .plugins import first_result
from .readers import FrameReader, FrameRequest


def open_frames(source: Any, request: FrameRequest, *, pm: pluggy.PluginManager | None = None) -> FrameReader:
    """Ask the plugins for a reader of ``source``; raises PluginError when none serves it."""
    return first_result("smolplug_open_frames", pm, source=source, request=request)


def make_executor(
    model: Any, device: str = "auto", *, pm: pluggy.PluginManager | None = None, **options: Any
) -> Executor:
    """Ask the plugins for an executor of ``model`` on ``device``."""
    return first_result("smolplug_make_executor", pm, model=model, device=device, options=options)
