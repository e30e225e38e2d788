"""The JPEG target: every mutant goes through ``decode_jpeg`` (single, on this thread's reused
decoder), ``probe_jpeg``, and ``decode_jpeg_batch`` at 1, 2 and 4 threads mixed with valid images
(so state leaking between items would show), one in ``--fresh-every`` also through a fresh
process. Checked: no crash, statuses are valid, every failed or warned item has a message, float
outputs are finite, and status, message and output bytes are identical across single, batches
and the fresh process; valid images in a batch equal their decode by a fresh decoder."""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

import smolplug
from smolplug import DecodeError, DecodeWarning, FrameSpec, Status

from . import Context, register
from .jpeg_format import parse
from .jpeg_mutate import mutate
from .jpeg_seeds import seeds

T = TypeVar("T")
Outcome = tuple[int, str, bytes]  # status, message, output frame

SEEDS = seeds()
SEED_NAMES = sorted(SEEDS)
DONORS = [j for j in (parse(d) for d in SEEDS.values()) if j is not None]
BATCH_THREADS = (1, 2, 4)
VALID_PER_BATCH = 3
GROUP_SIZE = 12

SPECS = [
    FrameSpec(16, 16),
    FrameSpec(12, 20, resize="shorter-side-crop", mean=0.5, std=0.25, dtype="float16"),
    FrameSpec(9, 7, roi=(3, 4, 30, 20), layout="NHWC", dtype="uint8"),
    FrameSpec(10, 10, resize="letterbox", colorspace="GRAY", exif_orientation=True),
    FrameSpec(24, 24, roi=(1.5, 2.25, 12, 10), colorspace="BGR", interpolation="area", exif_orientation=True),
    FrameSpec(48, 40, resize="letterbox", fill=255, dtype="uint8", layout="NHWC", exif_orientation=True),
]
# Limits small enough that a mutated header cannot make one decode take seconds or gigabytes.
LIMITS = {"max_pixels": 1 << 22, "max_memory": 32 << 20}
OPTIONS: list[dict[str, Any]] = [
    {"strict": True},
    {"strict": False},
    {"strict": False, "max_memory": 64 << 10},  # progressive seeds fit, larger mutants hit the budget
    {"strict": True, "fastdct": True, "fastupsample": True},
    {"strict": False, "scale_headroom": float("inf")},
]
CONFIGS = [(s, {**LIMITS, **o}) for s in range(len(SPECS)) for o in OPTIONS]


def _on_new_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a thread of its own: a fresh native decoder (they are per thread)."""
    box: list[T] = []
    t = threading.Thread(target=lambda: box.append(fn()))
    t.start()
    t.join()
    return box[0]


def decode_single(data: bytes, config: int) -> Outcome:
    spec_index, opts = CONFIGS[config]
    spec = SPECS[spec_index]
    frame = spec.allocate(1)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            smolplug.decode_jpeg(data, spec, out=frame, **opts)
        except DecodeError as exc:
            return int(exc.status), str(exc), frame.tobytes()
        except MemoryError as exc:
            return int(Status.NO_MEMORY), str(exc), frame.tobytes()
    decode_warnings = [w for w in caught if issubclass(w.category, DecodeWarning)]
    if decode_warnings:
        return int(Status.WARNING), str(decode_warnings[0].message), frame.tobytes()
    return int(Status.OK), "", frame.tobytes()


def digest(outcome: Outcome) -> tuple[int, str, str]:
    return outcome[0], outcome[1], hashlib.blake2b(outcome[2], digest_size=16).hexdigest()


_references: dict[tuple[int, str], Outcome] = {}


def reference(config: int, name: str) -> Outcome:
    """A valid seed decoded by a fresh decoder."""
    key = (config, name)
    if key not in _references:
        _references[key] = _on_new_thread(lambda: decode_single(SEEDS[name], config))
    return _references[key]


def _check_outcome(ctx: Context, data: bytes, config: int, outcome: Outcome, path: str) -> None:
    status, message, frame = outcome
    if status not in Status._value2member_map_:
        ctx.problem(f"{path}: invalid status {status}", data)
        return
    if status != Status.OK and not message:
        ctx.problem(f"{path}: status {Status(status).name} without a message", data)
    spec = SPECS[CONFIGS[config][0]]
    if spec.dtype != "uint8" and not np.isfinite(np.frombuffer(frame, spec.numpy_dtype)).all():
        ctx.problem(f"{path}: non-finite output ({Status(status).name})", data)


def run_group(rng: random.Random, ctx: Context) -> None:
    config = rng.randrange(len(CONFIGS))
    spec_index, opts = CONFIGS[config]
    spec = SPECS[spec_index]
    mutants = []
    for _ in range(GROUP_SIZE):
        data, ops = mutate(rng, SEEDS[rng.choice(SEED_NAMES)], DONORS)
        ctx.input(data)
        for name in ops:
            ctx.op(name)
        mutants.append(data)

    single = [decode_single(m, config) for m in mutants]
    ctx.count("single", len(mutants))
    for data, outcome in zip(mutants, single, strict=True):
        ctx.status(Status(outcome[0]).name if outcome[0] in Status._value2member_map_ else str(outcome[0]))
        _check_outcome(ctx, data, config, outcome, "decode_jpeg")
        with contextlib.suppress(DecodeError):
            smolplug.probe_jpeg(data)
        ctx.count("probe_jpeg", decode=False)

    for threads in BATCH_THREADS:
        valid = rng.sample(SEED_NAMES, VALID_PER_BATCH)
        items: list[tuple[bytes, Outcome, str]] = [
            (m, o, "mutant") for m, o in zip(mutants, single, strict=True)
        ]
        items += [(SEEDS[n], reference(config, n), f"valid seed {n}") for n in valid]
        rng.shuffle(items)
        b = smolplug.decode_jpeg_batch(
            [it[0] for it in items], spec, threads=threads, on_error="skip", **opts
        )
        ctx.count(f"batch-{threads}", len(items))
        for i, (data, expected, what) in enumerate(items):
            got = (int(b.status[i]), b.messages[i], b.data[i].tobytes())
            _check_outcome(ctx, data, config, got, f"batch-{threads}")
            if got != expected:
                ctx.problem(
                    f"batch at {threads} threads differs from a single decode, {what} (config {config}): "
                    f"{digest(expected)} != {digest(got)}",
                    data,
                )

    for data, outcome in zip(mutants, single, strict=True):
        ctx.sample_fresh((data, config), digest(outcome))


def fresh(payloads: list[tuple[bytes, int]]) -> list[tuple[int, str, str]]:
    """Each payload decoded by a decoder that has decoded nothing before (a new thread of a new
    process)."""
    return [digest(_on_new_thread(lambda d=data, c=config: decode_single(d, c))) for data, config in payloads]


register("jpeg", run_group, fresh=fresh, group_size=GROUP_SIZE)
