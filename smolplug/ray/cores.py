"""One core per read task: a Ray task asks for one CPU, but FFmpeg's frame threads (and a native
thread pool) would spread it over every core of its node. :func:`one_core` pins the calling
thread, and the threads it starts, to a core no other read task on the node holds (claimed with
a lock file, released when the task ends or its process dies); with every core claimed it pins
nothing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def one_core(enabled: bool = True) -> Iterator[int | None]:
    """Pin to one free core of this node for the duration; yields it (None: not pinned)."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    import fcntl

    before = os.sched_getaffinity(0)
    locks = Path(tempfile.gettempdir()) / "smolplug-ray-cores"
    try:
        locks.mkdir(exist_ok=True)
    except OSError:
        yield None
        return
    for core in sorted(before):
        try:
            f = open(locks / f"{core}.lock", "a")  # noqa: SIM115 - held for the duration
        except OSError:
            break
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        try:
            os.sched_setaffinity(0, {core})
            yield core
        finally:
            os.sched_setaffinity(0, before)
            f.close()  # releases the lock
        return
    yield None
