"""TensorRT executor (TensorRT 10 Python API): ONNX -> engine (FP16, or INT8 with an entropy
calibrator), cached by model hash + input shape + batch range + precision + GPU + TensorRT
version; batches run with ``execute_async_v3`` on a CUDA stream, buffers in torch CUDA tensors.

UNVERIFIED: TensorRT cannot be installed where smolplug is developed and tested, and no GPU
there has it. This module is written against the documented TensorRT 10 API; the parts that do
not need TensorRT (cache keys, calibration batching, errors) are tested.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .cuda import pinned_empty
from .executors import BackendUnavailable, Executor
from .onnx import export_onnx

PRECISIONS = ("fp32", "fp16", "int8")


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailable(
            "TensorRT is not installed (pip install tensorrt, with an NVIDIA GPU and driver; "
            "or use device='cuda' for torch CUDA)"
        ) from None
    return tensorrt


def engine_cache_key(
    onnx_bytes: bytes, chw: tuple[int, ...], max_batch: int, precision: str, gpu: str, trt_version: str
) -> str:
    h = hashlib.sha1(onnx_bytes)
    h.update(repr((tuple(chw), max_batch, precision, gpu, trt_version)).encode())
    return h.hexdigest()[:20]


def calibration_batches(batches: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Re-chunk calibration data into float32 C-contiguous batches of exactly ``batch_size``
    (TensorRT's calibrator asks for a fixed size; a short tail is dropped)."""
    buf: list[np.ndarray] = []
    have = 0
    for b in batches:
        b = np.ascontiguousarray(b, np.float32)
        buf.append(b)
        have += len(b)
        while have >= batch_size:
            cat = np.concatenate(buf)
            yield cat[:batch_size]
            rest = cat[batch_size:]
            buf, have = ([rest] if len(rest) else []), len(rest)


def _make_calibrator(
    trt: Any, torch: Any, batches: Iterable[np.ndarray], batch_size: int, cache: Path
) -> Any:
    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self._it = calibration_batches(batches, batch_size)
            self._dev: Any = None

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                b = next(self._it)
            except StopIteration:
                return None
            self._dev = torch.from_numpy(b).cuda()
            return [int(self._dev.data_ptr())]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.exists() else None

        def write_calibration_cache(self, data: Any) -> None:
            cache.write_bytes(bytes(data))

    return EntropyCalibrator()


class TensorRTExecutor(Executor):
    """A model (torch module or ONNX file) compiled by TensorRT for the first batch's C/H/W."""

    name = "tensorrt"

    def __init__(
        self,
        model: Any,
        *,
        precision: str = "fp16",
        max_batch: int = 256,
        calibration: Iterable[np.ndarray] | None = None,
        workspace_gb: float = 4.0,
        cache: Path | None = None,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "int8" and calibration is None:
            raise ValueError("INT8 needs calibration batches (an iterable of preprocessed arrays)")
        self.trt = import_tensorrt()
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("TensorRT needs a CUDA device; none is visible")
        from ..cache import cache_dir

        self.torch = torch
        self.model, self.precision, self.max_batch = model, precision, max_batch
        self.calibration, self.workspace = calibration, int(workspace_gb * (1 << 30))
        self.cache = (cache or cache_dir()) / "tensorrt"
        self.stream = torch.cuda.Stream()
        self.host_allocator = pinned_empty
        self._engines: dict[tuple[int, ...], tuple[Any, Any, str, str]] = {}

    def _build(self, chw: tuple[int, ...]) -> tuple[Any, Any, str, str]:
        trt, torch = self.trt, self.torch
        onnx_path = (
            Path(self.model) if isinstance(self.model, str | os.PathLike) else export_onnx(self.model, chw)
        )
        onnx_bytes = onnx_path.read_bytes()
        key = engine_cache_key(
            onnx_bytes, chw, self.max_batch, self.precision, torch.cuda.get_device_name(), trt.__version__
        )
        self.cache.mkdir(parents=True, exist_ok=True)
        path = self.cache / f"{key}.engine"
        logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(logger)
        if path.exists():
            engine = runtime.deserialize_cuda_engine(path.read_bytes())
        else:
            builder = trt.Builder(logger)
            network = builder.create_network(0)  # TensorRT 10: explicit batch always
            parser = trt.OnnxParser(network, logger)
            if not parser.parse(onnx_bytes):
                errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
                raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errs}")
            config = builder.create_builder_config()
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace)
            profile = builder.create_optimization_profile()
            name = network.get_input(0).name
            opt = max(1, self.max_batch // 2)
            profile.set_shape(name, (1, *chw), (opt, *chw), (self.max_batch, *chw))
            config.add_optimization_profile(profile)
            if self.precision in ("fp16", "int8"):
                config.set_flag(trt.BuilderFlag.FP16)
            if self.precision == "int8":
                config.set_flag(trt.BuilderFlag.INT8)
                config.set_calibration_profile(profile)
                config.int8_calibrator = _make_calibrator(
                    trt, torch, self.calibration, opt, self.cache / f"{key}.calib"
                )
            serialized = builder.build_serialized_network(network, config)
            if serialized is None:
                raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path}")
            path.write_bytes(bytes(serialized))
            engine = runtime.deserialize_cuda_engine(serialized)
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inp = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        out = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        return engine, engine.create_execution_context(), inp, out

    def run(self, batch: np.ndarray) -> Any:
        if len(batch) > self.max_batch:
            return np.concatenate(
                [self.run(batch[i : i + self.max_batch]) for i in range(0, len(batch), self.max_batch)]
            )
        torch = self.torch
        chw = tuple(batch.shape[1:])
        if chw not in self._engines:
            self._engines[chw] = self._build(chw)
        _, ctx, inp, out_name = self._engines[chw]
        with torch.cuda.stream(self.stream):
            src = torch.from_numpy(np.ascontiguousarray(batch, np.float32))
            if not src.is_pinned():  # the runner's ring is pinned (host_allocator): no extra copy
                src = src.pin_memory()
            x = src.cuda(non_blocking=True)
            ctx.set_input_shape(inp, tuple(x.shape))
            out = torch.empty(tuple(ctx.get_tensor_shape(out_name)), dtype=torch.float32, device="cuda")
            ctx.set_tensor_address(inp, x.data_ptr())
            ctx.set_tensor_address(out_name, out.data_ptr())
            if not ctx.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return out.cpu().numpy()
