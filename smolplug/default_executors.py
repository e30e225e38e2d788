"""Default ``smolplug_make_executor``: CPU execution of torch modules and plain callables.

GPU and runtime-specific executors (torch CUDA, onnxruntime, TensorRT) are
separate plugins; asking for a device nobody serves raises PluginError.
"""

from __future__ import annotations

from typing import Any

from .executors import CallableExecutor, Executor, TorchCPUExecutor, is_torch_module
from .hookspecs import hookimpl


@hookimpl(trylast=True)
def smolplug_make_executor(model: Any, device: str, options: dict[str, Any]) -> Executor | None:
    if device not in ("cpu", "auto"):
        return None
    if is_torch_module(model):
        return TorchCPUExecutor(model, threads=options.get("threads"))
    if callable(model):
        return CallableExecutor(model)
    return None
