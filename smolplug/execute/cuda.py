"""torch on a CUDA device: pinned host buffers, a copy stream overlapping host-to-device copies
with compute, batches in flight. Written against torch's documented CUDA API; it runs only
where a GPU is present."""

from __future__ import annotations

from typing import Any

import numpy as np

from .executors import BackendUnavailable, Executor, Pending


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
