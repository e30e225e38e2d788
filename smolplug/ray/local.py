"""Local Ray clusters for tests, benchmarks and trying things on one machine.

:func:`prepare_environment` works around one packaging conflict: Ray (2.5x and later) refuses to
start its dashboard agent, and with it every node, when pydantic 1 is installed, and some hosts'
packages still pin ``pydantic<2`` (EvaDB 0.3.9 declares it without importing it). Ray runs
without pydantic at all (its minimal install), so where pydantic 1 is installed, Ray's processes
started from this interpreter, and this interpreter itself, get a path entry ahead of
site-packages under which ``import pydantic`` fails as if it were not installed (Ray's driver
imports it too). Nothing is done where pydantic 2 or no pydantic is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SHIM = 'raise ModuleNotFoundError("pydantic 1 is hidden from Ray (smolplug.ray.local)", name="pydantic")\n'


def _pydantic_major() -> int | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("pydantic").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return None


def prepare_environment() -> Path | None:
    """Hide pydantic 1 from the Ray processes this interpreter starts (see the module doc);
    returns the directory put on ``PYTHONPATH``, or None when nothing needed doing."""
    if _pydantic_major() != 1:
        return None
    from ..cache import cache_dir

    shim = cache_dir() / "ray-no-pydantic1"
    pkg = shim / "pydantic"
    if not (pkg / "__init__.py").is_file() or (pkg / "__init__.py").read_text() != _SHIM:
        pkg.mkdir(parents=True, exist_ok=True)
        tmp = pkg / f"__init__.{os.getpid()}.tmp"
        tmp.write_text(_SHIM)
        tmp.replace(pkg / "__init__.py")
    if "pydantic" in sys.modules and sys.modules["pydantic"] is not None:
        raise RuntimeError("pydantic 1 is already imported here: Ray cannot start in this interpreter")
    if str(shim) not in sys.path:
        sys.path.insert(0, str(shim))
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(shim) not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(shim), *parts])
    return shim


def init(num_cpus: int | None = None, **kwargs: Any) -> Any:
    """``ray.init`` of a fresh local node (after :func:`prepare_environment`), quiet."""
    from .read import require_ray

    ray = require_ray()
    prepare_environment()
    kwargs.setdefault("include_dashboard", False)
    kwargs.setdefault("log_to_driver", False)
    kwargs.setdefault("configure_logging", False)
    return ray.init(num_cpus=num_cpus, **kwargs)


@contextmanager
def cluster(nodes: int = 2, cpus_per_node: int = 1, object_store_memory: int = 200 << 20) -> Iterator[Any]:
    """A ``ray.cluster_utils.Cluster`` of ``nodes`` nodes on this machine, connected to this
    driver; shut down on exit."""
    from .read import require_ray

    ray = require_ray()
    from ray.cluster_utils import Cluster

    prepare_environment()
    c = Cluster()
    try:
        for _ in range(nodes):
            c.add_node(
                num_cpus=cpus_per_node, object_store_memory=object_store_memory, include_dashboard=False
            )
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False, configure_logging=False)
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
