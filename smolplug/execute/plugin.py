"""Default ``smolplug_make_executor``.

``device``: "cpu", "cuda"/"cuda:N", or "auto" (CUDA when torch sees a GPU, else CPU).
``options["backend"]``: "auto" (default), "torch", "onnxruntime" or "tensorrt".

- CPU, torch module: "torch" (eager, ``inference_mode``), "onnxruntime" (exported to ONNX once,
  cached), or "auto": both are timed on the first batch and the faster one is kept.
- CPU, ``*.onnx`` path: onnxruntime. Any other callable: called on the numpy batch.
- CUDA, torch module or ONNX: "tensorrt" (TensorRT 10, FP16/INT8; unverified, see tensorrt.py),
  "torch" (fp16/bf16, channels_last, optional ``compile``), or "auto": TensorRT when it is
  installed, else torch CUDA.

An explicit backend or device that is unavailable raises ``BackendUnavailable`` naming what to
install; an unknown device returns None (another plugin may serve it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..plugins.hookspecs import hookimpl
from .cuda import TorchCUDAExecutor
from .executors import (
    AutoExecutor,
    BackendUnavailable,
    CallableExecutor,
    Executor,
    TorchCPUExecutor,
    is_torch_module,
)
from .onnx import ONNXRuntimeExecutor

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def _cuda_available() -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return False
    return bool(torch.cuda.is_available())


def _is_onnx(model: Any) -> bool:
    return isinstance(model, str | os.PathLike) and str(model).lower().endswith(".onnx")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@hookimpl(trylast=True)
def smolplug_make_executor(model: Any, device: str, options: dict[str, Any]) -> Executor | None:
    backend = options.get("backend", "auto")
    if backend not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    if device == "auto":
        device = "cuda" if (is_torch_module(model) or _is_onnx(model)) and _cuda_available() else "cpu"
    threads = options.get("threads")
    if device == "cpu":
        if backend == "tensorrt":
            raise BackendUnavailable("TensorRT runs on CUDA devices only (device='cuda')")
        if _is_onnx(model):
            if backend == "torch":
                raise BackendUnavailable("an ONNX file runs on onnxruntime, not torch")
            return ONNXRuntimeExecutor(model, threads=threads)
        if is_torch_module(model):
            if backend == "torch":
                return TorchCPUExecutor(model, threads=threads)
            if backend == "onnxruntime":
                return ONNXRuntimeExecutor(model, threads=threads)
            candidates = {"torch-cpu": lambda: TorchCPUExecutor(model, threads=threads)}
            if _has("onnxruntime"):
                candidates["onnxruntime-cpu"] = lambda: ONNXRuntimeExecutor(model, threads=threads)
            return AutoExecutor(candidates) if len(candidates) > 1 else candidates["torch-cpu"]()
        if callable(model) and backend == "auto":
            return CallableExecutor(model)
        return None
    if device == "cuda" or device.startswith("cuda:"):
        if not (is_torch_module(model) or _is_onnx(model)):
            return None
        if backend == "onnxruntime":
            raise BackendUnavailable(
                "the onnxruntime executor is CPU-only here: use backend 'tensorrt' or 'torch'"
            )
        if not _cuda_available():
            raise BackendUnavailable(
                f"device {device!r}: no CUDA device visible to torch (an NVIDIA GPU, its driver and a CUDA "
                "build of torch are needed)"
            )
        if backend == "tensorrt" or (backend == "auto" and _has("tensorrt")):
            from .tensorrt import TensorRTExecutor

            return TensorRTExecutor(
                model,
                precision=options.get("precision", "fp16"),
                max_batch=options.get("max_batch", 256),
                calibration=options.get("calibration"),
            )
        if _is_onnx(model):
            raise BackendUnavailable("an ONNX file on CUDA needs TensorRT (pip install tensorrt)")
        return TorchCUDAExecutor(
            model,
            device=device,
            dtype=options.get("dtype", "float16"),
            channels_last=options.get("channels_last", True),
            compile=options.get("compile", False),
            max_inflight=options.get("max_inflight", 2),
        )
    return None
