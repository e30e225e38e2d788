"""Executors: run a model on batches. The interface behind ``smolplug_make_executor``."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from pathlib import Path
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


def export_onnx(model: Any, chw: tuple[int, ...], cache: Path | None = None, opset: int = 17) -> Path:
    """``model`` exported to ONNX once per (weights, input C/H/W, torch version, opset), batch
    dimension dynamic; later calls return the cached file."""
    import warnings

    import torch

    from ..video.index import cache_dir

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


def pinned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised numpy array in page-locked (pinned) host memory, which CUDA copies to
    the device asynchronously. The array keeps its torch storage alive. Needs a CUDA device."""
    import torch

    t = torch.empty(tuple(shape), dtype=getattr(torch, np.dtype(dtype).name), pin_memory=True)
    return t.numpy()


class _CUDAPending(Pending):
    def __init__(self, owner: TorchCUDAExecutor, events: tuple[Any, Any, Any], host_out: Any, keep: tuple):
        super().__init__()
        self._owner, self._events, self._host_out, self._keep = owner, events, host_out, keep

    def result(self) -> Any:
        if self._host_out is not None:
            start, copied, done = self._events
            done.synchronize()  # the output's device-to-host copy has landed
            self._output = self._host_out.numpy()
            t = self._owner.device_seconds
            t["h2d"] += start.elapsed_time(copied) / 1e3  # includes waiting for the copy engine
            t["compute"] += copied.elapsed_time(done) / 1e3  # from input ready to output on host
            self._host_out, self._keep = None, ()
        return self._output


class TorchCUDAExecutor(Executor):
    """A torch module on a CUDA device: fp16 or bf16 weights, channels_last, optional
    ``torch.compile``; batches copied host-to-device on a copy stream while the previous batch
    computes on the compute stream (``max_inflight`` batches outstanding), outputs copied back
    into pinned buffers. Batches in pinned memory (``host_allocator``, which the pipelined
    runner hands to the reader) are copied by DMA straight from the reader's ring; others go
    through a pinned staging buffer first.

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
        max_inflight: int = 2,
    ):
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable(
                "no CUDA device: torch CUDA needs an NVIDIA GPU and a CUDA build of torch "
                "(pip install torch --index-url https://download.pytorch.org/whl/cu128)"
            )
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.torch = torch
        self.device = torch.device(device)
        self.dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(self.device, dtype=self.dtype, memory_format=fmt)
        if compile:
            self.model = torch.compile(self.model, mode="max-autotune-no-cudagraphs")
        self.copy_stream = torch.cuda.Stream(self.device)
        self.compute_stream = torch.cuda.Stream(self.device)
        self.max_inflight = max_inflight
        self.host_allocator = pinned_empty
        self._fmt = fmt
        # staging buffers for unpinned batches: one per batch that may be in flight
        self._staging: list[Any] = []
        self._next = 0
        self.staged_bytes = 0  #: bytes that needed a staging copy (0 when the reader is pinned)
        #: GPU-side seconds (CUDA events): host-to-device copies, and compute + copy back
        self.device_seconds = {"h2d": 0.0, "compute": 0.0}

    def _pinned_source(self, batch: np.ndarray) -> Any:
        torch = self.torch
        src = torch.from_numpy(batch)
        if src.is_pinned():
            return src
        k = self._next % self.max_inflight
        self._next += 1
        while len(self._staging) <= k:
            self._staging.append(None)
        buf = self._staging[k]
        if buf is None or buf.shape != src.shape or buf.dtype != src.dtype:
            buf = self._staging[k] = torch.empty(src.shape, dtype=src.dtype, pin_memory=True)
        buf.copy_(src)
        self.staged_bytes += batch.nbytes
        return buf

    def submit(self, batch: np.ndarray) -> Pending:
        torch = self.torch
        src = self._pinned_source(batch)
        start, copied, done = (torch.cuda.Event(enable_timing=True) for _ in range(3))
        with torch.cuda.stream(self.copy_stream):
            start.record(self.copy_stream)
            x = src.to(self.device, non_blocking=True)
        copied.record(self.copy_stream)
        with torch.cuda.stream(self.compute_stream):
            self.compute_stream.wait_event(copied)
            x.record_stream(self.compute_stream)  # allocated on the copy stream, used here
            x = x.to(self.dtype).contiguous(memory_format=self._fmt)
            with torch.inference_mode():
                out = self.model(x).float()
            host = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
            host.copy_(out, non_blocking=True)
            done.record(self.compute_stream)
        # keep the host source (reader ring slot or staging buffer) referenced until done
        return _CUDAPending(self, (start, copied, done), host, (src, out))

    def run(self, batch: np.ndarray) -> Any:
        return self.submit(batch).result()


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
