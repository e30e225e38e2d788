"""Executors: run a model on batches. The interface behind ``smolplug_make_executor``."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PluginError


class Executor(abc.ABC):
    """Runs a model on numpy batches laid out as the request's FrameSpec says."""

    name: str = "executor"
    device: str = "cpu"

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> Any:
        """Run the model on one batch and return its output (numpy where possible)."""

    def close(self) -> None:  # noqa: B027 - optional override
        """Release device resources."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallableExecutor(Executor):
    """Any Python callable taking a numpy batch (numpy/onnx/sklearn models, test doubles)."""

    name = "callable"

    def __init__(self, fn: Callable[[np.ndarray], Any]):
        self.fn = fn

    def run(self, batch: np.ndarray) -> Any:
        return self.fn(batch)


class TorchCPUExecutor(Executor):
    """A ``torch.nn.Module`` in eval mode under ``inference_mode``; batches shared zero-copy."""

    name = "torch-cpu"

    def __init__(self, model: Any, threads: int | None = None):
        import torch

        self.torch = torch
        self.model = model.eval()
        if threads:
            torch.set_num_threads(threads)

    def run(self, batch: np.ndarray) -> Any:
        with self.torch.inference_mode():
            out = self.model(self.torch.from_numpy(batch))
        return out.numpy() if isinstance(out, self.torch.Tensor) else out


def is_torch_module(model: Any) -> bool:
    """True for a torch.nn.Module, without importing torch when the host has not."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


class BackendUnavailable(PluginError):
    """An explicitly requested executor backend is not installed or has no device here."""


def model_hash(model: Any) -> str:
    """Identity of a torch module's architecture and weights (for caching exported artefacts)."""
    import hashlib

    h = hashlib.sha1(type(model).__qualname__.encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def export_onnx(model: Any, chw: tuple[int, ...], cache: Path | None = None, opset: int = 17) -> Path:
    """``model`` exported to ONNX once per (weights, input C/H/W, torch version, opset), batch
    dimension dynamic; later calls return the cached file."""
    import warnings

    import torch

    from .video.index import cache_dir

    d = (cache or cache_dir()) / "onnx"
    key = f"{model_hash(model)}-{'x'.join(map(str, chw))}-torch{torch.__version__}-op{opset}"
    path = d / f"{key}.onnx"
    if path.exists():
        return path
    d.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                model,
                (torch.zeros(1, *chw),),
                str(tmp),
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=opset,
            )
    finally:
        model.train(was_training)
    tmp.replace(path)
    return path


class ONNXRuntimeExecutor(Executor):
    """onnxruntime on the CPU. Takes an ONNX file, or a torch module that is exported on the
    first batch (its C/H/W is part of the cache key) and cached."""

    name = "onnxruntime-cpu"

    def __init__(self, model: Any, threads: int | None = None, cache: Path | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
        self._ort = onnxruntime
        self.model, self.threads, self.cache = model, threads, cache
        self._sessions: dict[tuple[int, ...], Any] = {}
        self.onnx_path: Path | None = None

    def _session(self, chw: tuple[int, ...]) -> Any:
        s = self._sessions.get(chw)
        if s is None:
            if isinstance(self.model, str | os.PathLike):
                self.onnx_path = Path(self.model)
            else:
                self.onnx_path = export_onnx(self.model, chw, self.cache)
            opts = self._ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = int(self.threads)
                opts.inter_op_num_threads = 1
            s = self._ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
            self._sessions[chw] = s
        return s

    def run(self, batch: np.ndarray) -> Any:
        s = self._session(tuple(batch.shape[1:]))
        x = np.ascontiguousarray(batch, np.float32)
        return s.run(None, {s.get_inputs()[0].name: x})[0]


class TorchCUDAExecutor(Executor):
    """A torch module on a CUDA device: fp16 or bf16 weights, channels_last, inputs copied from
    (pinned) host memory on a side stream, optional ``torch.compile``.

    Verified only where a CUDA device exists; without one it raises :class:`BackendUnavailable`.
    """

    name = "torch-cuda"

    def __init__(
        self,
        model: Any,
        device: str = "cuda",
        dtype: str = "float16",
        channels_last: bool = True,
        compile: bool = False,
    ):
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable(
                "no CUDA device: torch CUDA needs an NVIDIA GPU and a CUDA build of torch "
                "(pip install torch --index-url https://download.pytorch.org/whl/cu128)"
            )
        self.torch = torch
        self.device = torch.device(device)
        self.dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(self.device, dtype=self.dtype, memory_format=fmt)
        if compile:
            self.model = torch.compile(self.model, mode="max-autotune-no-cudagraphs")
        self.stream = torch.cuda.Stream(self.device)
        self._fmt = fmt
        self._pinned: Any = None

    def run(self, batch: np.ndarray) -> Any:
        torch = self.torch
        src = torch.from_numpy(batch)
        if not src.is_pinned():
            if self._pinned is None or self._pinned.shape != src.shape or self._pinned.dtype != src.dtype:
                self._pinned = torch.empty(src.shape, dtype=src.dtype, pin_memory=True)
            self._pinned.copy_(src)
            src = self._pinned
        with torch.cuda.stream(self.stream):
            x = src.to(self.device, non_blocking=True).to(self.dtype).contiguous(memory_format=self._fmt)
            with torch.inference_mode():
                out = self.model(x)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return out.float().cpu().numpy()


class AutoExecutor(Executor):
    """Picks the fastest of several executors on the first batch (each is built, warmed up and
    timed on it; ones that fail to build are skipped, with the reason kept in ``timings``)."""

    name = "auto"

    def __init__(self, candidates: dict[str, Callable[[], Executor]]):
        if not candidates:
            raise PluginError("no executor candidates")
        self.candidates = candidates
        self.chosen: Executor | None = None
        self.timings: dict[str, float | str] = {}

    def run(self, batch: np.ndarray) -> Any:
        if self.chosen is not None:
            return self.chosen.run(batch)
        import time

        best: tuple[float, Executor, Any] | None = None
        for name, make in self.candidates.items():
            try:
                ex = make()
                ex.run(batch)  # warm-up (exports, allocations, kernel selection)
                t0 = time.perf_counter()
                out = ex.run(batch)
                dt = time.perf_counter() - t0
            except Exception as e:  # a candidate that cannot run here is not a choice
                self.timings[name] = f"unavailable: {e}"
                continue
            self.timings[name] = dt
            if best is None or dt < best[0]:
                if best is not None:
                    best[1].close()
                best = (dt, ex, out)
            else:
                ex.close()
        if best is None:
            raise BackendUnavailable(f"no executor could run the model: {self.timings}")
        self.chosen = best[1]
        self.name = f"auto:{self.chosen.name}"
        return best[2]

    def close(self) -> None:
        if self.chosen is not None:
            self.chosen.close()
