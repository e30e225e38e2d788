"""``read_frames`` / ``read_images``: Ray Datasets of smolplug-decoded frames."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import SpecError
from ..frames.readers import JPEG_SUFFIXES, VIDEO_SUFFIXES
from ..request.selection import FrameSelection
from ..request.spec import FrameSpec
from .datasource import (
    MIN_TASK_COST,
    MIN_TASK_FILES,
    ReadOptions,
    VideoFramesDatasource,
)
from .files import expand, index_file
from .images import ImagesDatasource

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or an ImportError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"smolplug.ray needs Ray Data ({e}): pip install 'smolplug[ray]' (ray[data])"
        ) from e
    return ray


def _options(spec: FrameSpec | None, **kw: Any) -> ReadOptions:
    spec = FrameSpec.imagenet() if spec is None else spec
    if not isinstance(spec, FrameSpec):
        raise SpecError(f"spec must be a FrameSpec, got {type(spec).__name__}")
    opts = ReadOptions(spec, **kw)
    opts.request([])  # validates batch size, threads, ... on the driver, not in every task
    return opts


def _read(
    ray: Any, source: Any, override_num_blocks: int | None, concurrency: int | None, remote: Any
) -> Any:
    return ray.data.read_datasource(
        source,
        override_num_blocks=override_num_blocks,
        concurrency=concurrency,
        ray_remote_args=dict(remote or {}),
    )


def read_frames(
    paths: Paths,
    frames: FrameSelection | Sequence[int] | None = None,
    spec: FrameSpec | None = None,
    *,
    batch_size: int = 32,
    strict: bool = True,
    scale_headroom: float = 1.0,
    autorotate: bool = True,
    threads: int = 1,
    one_core: bool = True,
    cache: str | os.PathLike[str] | None = None,
    min_task_cost: float = MIN_TASK_COST,
    override_num_blocks: int | None = None,
    concurrency: int | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> Any:
    """A ``ray.data.Dataset`` of the ``frames`` of every video in ``paths``, decoded as ``spec``.

    :param paths: a video file, a directory (its video files, natural order), a glob pattern, or
        a list of those.
    :param frames: a :class:`~smolplug.request.selection.FrameSelection` (or explicit indices),
        applied to every file; None: every frame.
    :param spec: output geometry and encoding (default :meth:`FrameSpec.imagenet`).
    :param scale_headroom: as :class:`~smolplug.FrameRequest` (``inf``: full-resolution decode).
    :param threads: native conversion threads per read task.
    :param one_core: each read task decodes on one core of its node, as a one-CPU Ray task
        (:mod:`smolplug.ray.cores`; False: FFmpeg's frame threads use every core).
    :param cache: the keyframe-index cache directory (default: each node's ``cache_dir()``).
    :param min_task_cost: a read task decodes at least this many 1080p-frame equivalents.
    :param override_num_blocks: read tasks wanted (Ray's default otherwise); pieces never cut
        below ``min_task_cost`` nor inside a GOP.
    :param concurrency: most read tasks at once; ``ray_remote_args``: per read task (e.g.
        ``{"num_cpus": 1}``).

    One row per requested position: ``frame`` (the tensor, ``spec.frame_shape``), ``path``,
    ``frame_index`` (the i-th frame of a sequential decode), ``position`` (its place in the
    file's request), ``frame_timestamp`` (seconds), ``status`` (``"OK"``, ``"WARNING"``,
    ``"CORRUPT"``, ``"MISSING"``, ...) and ``message`` (why, when not OK). A file that cannot be
    read gives rows with its error (one row, ``frame_index`` -1, when the selection needs the
    frame count).
    """
    ray = require_ray()
    source = frames_datasource(
        paths,
        frames,
        spec,
        batch_size=batch_size,
        strict=strict,
        scale_headroom=scale_headroom,
        autorotate=autorotate,
        threads=threads,
        one_core=one_core,
        cache=cache,
        min_task_cost=min_task_cost,
    )
    return _read(ray, source, override_num_blocks, concurrency, ray_remote_args)


def frames_datasource(
    paths: Paths,
    frames: FrameSelection | Sequence[int] | None = None,
    spec: FrameSpec | None = None,
    *,
    batch_size: int = 32,
    strict: bool = True,
    scale_headroom: float = 1.0,
    autorotate: bool = True,
    threads: int = 1,
    one_core: bool = True,
    cache: str | os.PathLike[str] | None = None,
    min_task_cost: float = MIN_TASK_COST,
) -> VideoFramesDatasource:
    """The ``ray.data.Datasource`` behind :func:`read_frames` (same parameters): indexes every
    file in Ray tasks (starting Ray when it is not running) and puts the indexes in the object
    store. ``ray.data.read_datasource(source, ...)`` reads it."""
    ray = require_ray()
    selection = FrameSelection.of(frames)
    opts = _options(
        spec,
        batch_size=batch_size,
        strict=strict,
        scale_headroom=scale_headroom,
        autorotate=autorotate,
        threads=threads,
        one_core=one_core,
        cache=None if cache is None else os.fspath(cache),
    )
    files = expand(paths, VIDEO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no video files in {paths!r}")
    if not ray.is_initialized():
        ray.init()
    index = ray.remote(num_cpus=1, max_retries=3)(index_file)
    found = ray.get([index.remote(f, opts.cache, opts.spec, scale_headroom, autorotate) for f in files])
    for f in found:
        if f.index is not None:
            f.ref = ray.put(f.index)
    return VideoFramesDatasource(found, selection, opts, min_task_cost)


def read_images(
    paths: Paths,
    files: FrameSelection | Sequence[int] | None = None,
    spec: FrameSpec | None = None,
    *,
    batch_size: int = 32,
    strict: bool = True,
    scale_headroom: float = 1.0,
    threads: int = 1,
    min_task_files: int = MIN_TASK_FILES,
    override_num_blocks: int | None = None,
    concurrency: int | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> Any:
    """A ``ray.data.Dataset`` of JPEG files decoded as ``spec`` by the native batch decoder.

    :param paths: a file, a directory (its JPEGs, natural order), a glob pattern, or a list.
    :param files: which of the listed files (a selection or indices into the list); None: all.

    One row per requested position: ``image``, ``path``, ``index`` (the file's place in the
    list), ``position``, ``status`` and ``message`` (an unreadable or damaged file is a row with
    its status, never dropped).
    """
    ray = require_ray()
    opts = _options(
        spec, batch_size=batch_size, strict=strict, scale_headroom=scale_headroom, threads=threads
    )
    listed = expand(paths, JPEG_SUFFIXES)
    if not listed:
        raise FileNotFoundError(f"no JPEG files in {paths!r}")
    source = ImagesDatasource(listed, FrameSelection.of(files), opts, min_task_files)
    return _read(ray, source, override_num_blocks, concurrency, ray_remote_args)
