"""Running the model on the batches.

Enters: a model (torch module, ONNX file, callable) and :class:`~smolplug.frames.FrameBatch` es.
Leaves: model outputs per batch, from an :class:`Executor` made by the ``smolplug_make_executor``
hook (default plugin :mod:`smolplug.execute.plugin`): torch CPU and callables here,
onnxruntime in :mod:`smolplug.execute.onnx`, torch CUDA in :mod:`smolplug.execute.cuda`, TensorRT
in :mod:`smolplug.execute.tensorrt`; and :class:`PipelinedRunner`, which overlaps
decoding (a reader thread) with inference and times each stage.
"""

from .cuda import TorchCUDAExecutor, pinned_empty
from .executors import AutoExecutor, BackendUnavailable, CallableExecutor, Executor, Pending, TorchCPUExecutor
from .onnx import ONNXRuntimeExecutor, export_onnx
from .runner import PipelinedRunner

__all__ = [
    "AutoExecutor",
    "BackendUnavailable",
    "CallableExecutor",
    "Executor",
    "ONNXRuntimeExecutor",
    "Pending",
    "PipelinedRunner",
    "TorchCPUExecutor",
    "TorchCUDAExecutor",
    "export_onnx",
    "pinned_empty",
]
