"""Executors: run a model on batches. The interface behind ``smolplug_make_executor``, and the
executors that need nothing beyond the model's own library: a plain callable, torch on the CPU,
and :class:`AutoExecutor`, which times candidates on the first batch. onnxruntime is in
:mod:`smolplug.execute.onnx`, torch CUDA in :mod:`smolplug.execute.cuda`, TensorRT in
:mod:`smolplug.execute.tensorrt`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import PluginError


class Pending:
    """A submitted batch's output, available from :meth:`result`."""

    def __init__(self, output: Any = None):
        self._output = output

    def result(self) -> Any:
        return self._output


class Executor(abc.ABC):
    """Runs a model on numpy batches laid out as the request's FrameSpec says.

    Synchronous by default (:meth:`run`). An executor on an accelerator also implements
    :meth:`submit`: it starts the host-to-device copy and the inference and returns at once, so
    the caller can submit the next batch while this one runs; up to :attr:`max_inflight`
    batches may be outstanding, and a submitted batch's host buffer must stay untouched until
    its :meth:`Pending.result` returns. :attr:`host_allocator` (None: ordinary memory) is the
    allocator the frame reader should fill its batch buffers with (page-locked memory, so the
    copies are asynchronous DMA and need no staging copy).
    """

    name: str = "executor"
    device: str = "cpu"
    max_inflight: int = 1
    host_allocator: Callable[[tuple[int, ...], np.dtype], np.ndarray] | None = None

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> Any:
        """Run the model on one batch and return its output (numpy where possible)."""

    def submit(self, batch: np.ndarray) -> Pending:
        """Start the model on one batch; the output comes from the returned :class:`Pending`."""
        return Pending(self.run(batch))

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
    """A ``torch.nn.Module`` in eval mode under ``inference_mode``; batches shared zero-copy.
    ``threads``: torch's intra-op threads during each run (restored after: torch's setting is
    process-wide, and the host's own inference must not inherit it)."""

    name = "torch-cpu"

    def __init__(self, model: Any, threads: int | None = None):
        import torch

        self.torch = torch
        self.model = model.eval()
        self.threads = threads

    def run(self, batch: np.ndarray) -> Any:
        torch = self.torch
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = self.model(torch.from_numpy(batch))
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
        return out.numpy() if isinstance(out, torch.Tensor) else out


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


class AutoExecutor(Executor):
    """Picks the fastest of several executors on the first batch (each is built, warmed up and
    timed on it, best of ``repeats``; ones that fail to build are skipped, with the reason kept
    in ``timings``)."""

    name = "auto"

    def __init__(self, candidates: dict[str, Callable[[], Executor]], repeats: int = 3):
        if not candidates:
            raise PluginError("no executor candidates")
        self.candidates = candidates
        self.repeats = max(1, repeats)
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
                dt = float("inf")
                for _ in range(self.repeats):  # best of a few: one call is at the mercy of noise
                    t0 = time.perf_counter()
                    out = ex.run(batch)
                    dt = min(dt, time.perf_counter() - t0)
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

    def submit(self, batch: np.ndarray) -> Pending:
        if self.chosen is not None:
            return self.chosen.submit(batch)
        return Pending(self.run(batch))

    def close(self) -> None:
        if self.chosen is not None:
            self.chosen.close()
