"""Which frames a query wants: all, every k-th, explicit indices, a seeded random sample,
frame ranges or time ranges. Resolved against a source into the frame indices to deliver, in
delivery order (:meth:`FrameSelection.positions`): ascending, except explicit indices, which are
delivered in the order given, repeats included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SpecError


@dataclass(frozen=True)
class FrameSelection:
    """A frame selection; build one with the class methods (``FrameSelection.every(30)``)."""

    kind: str
    args: tuple = field(default=())

    @classmethod
    def all(cls) -> FrameSelection:
        return cls("all")

    @classmethod
    def every(cls, k: int, offset: int = 0) -> FrameSelection:
        """Frames offset, offset + k, offset + 2k, ... (NoScope's sampling)."""
        if (
            not isinstance(k, int)
            or isinstance(k, bool)
            or k < 1
            or not isinstance(offset, int)
            or offset < 0
        ):
            raise SpecError(f"every(k, offset) needs k >= 1 and offset >= 0, got k={k!r}, offset={offset!r}")
        return cls("every", (k, offset))

    @classmethod
    def indices(cls, frames: Sequence[int]) -> FrameSelection:
        """Explicit frame indices, delivered in the order given (repeats included, each frame
        decoded once); indices that do not exist are reported at their place."""
        try:
            idx = tuple(int(i) for i in frames)
        except (TypeError, ValueError):
            raise SpecError("indices() needs integer frame indices") from None
        return cls("indices", idx)

    @classmethod
    def of(cls, frames: Sequence[int] | FrameSelection | None) -> FrameSelection:
        """``frames`` as a selection: None is every frame, a sequence explicit indices."""
        if frames is None:
            return cls.all()
        if isinstance(frames, FrameSelection):
            return frames
        return cls.indices(frames)

    def positions(self, n_frames: int, timestamps: np.ndarray | None = None) -> np.ndarray:
        """The requested frame indices in delivery order (int64): ascending for every kind but
        explicit indices, which keep their order and repeats. Indices outside ``0..n_frames-1``
        are kept (a reader reports them)."""
        if self.kind == "indices":
            return np.asarray(self.args, dtype=np.int64).reshape(-1)
        return self.resolve(n_frames, timestamps)[0]

    @classmethod
    def sample(cls, n: int | None = None, *, fraction: float | None = None, seed: int = 0) -> FrameSelection:
        """A seeded uniform random sample without replacement: ``n`` frames or a ``fraction``."""
        if (n is None) == (fraction is None):
            raise SpecError("sample() takes exactly one of n or fraction")
        if n is not None and (not isinstance(n, int) or n < 0):
            raise SpecError(f"sample n must be a non-negative integer, got {n!r}")
        if fraction is not None and not 0 < fraction <= 1:
            raise SpecError(f"sample fraction must be in (0, 1], got {fraction!r}")
        return cls("sample", (n, fraction, int(seed)))

    @classmethod
    def frames(cls, start: int, stop: int | None = None, step: int = 1) -> FrameSelection:
        """Frame range ``[start, stop)`` with a step (``stop=None``: to the end)."""
        if start < 0 or step < 1 or (stop is not None and stop < start):
            raise SpecError(
                f"frames(start, stop, step) needs 0 <= start <= stop and step >= 1, got "
                f"{start}, {stop}, {step}"
            )
        return cls("frames", (start, stop, step))

    @classmethod
    def seconds(cls, start: float, stop: float | None = None) -> FrameSelection:
        """Frames whose timestamp lies in ``[start, stop)`` seconds."""
        if start < 0 or (stop is not None and stop < start):
            raise SpecError(f"seconds(start, stop) needs 0 <= start <= stop, got {start}, {stop}")
        return cls("seconds", (float(start), None if stop is None else float(stop)))

    def resolve(self, n_frames: int, timestamps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(frames to deliver, requested frames that do not exist), both ascending, unique, int64:
        the set view of :meth:`positions`."""
        none = np.empty(0, np.int64)
        if self.kind == "all":
            return np.arange(n_frames, dtype=np.int64), none
        if self.kind == "every":
            k, off = self.args
            return np.arange(off, n_frames, k, dtype=np.int64), none
        if self.kind == "indices":
            idx = np.unique(np.asarray(self.args, dtype=np.int64))
            ok = (idx >= 0) & (idx < n_frames)
            return idx[ok], idx[~ok]
        if self.kind == "sample":
            n, fraction, seed = self.args
            count = n if n is not None else int(round(fraction * n_frames))
            count = min(count, n_frames)
            rng = np.random.default_rng(seed)
            return np.sort(rng.choice(n_frames, size=count, replace=False)).astype(np.int64), none
        if self.kind == "frames":
            start, stop, step = self.args
            stop = n_frames if stop is None else min(stop, n_frames)
            return np.arange(start, stop, step, dtype=np.int64), none
        if self.kind == "seconds":
            if timestamps is None:
                raise SpecError("a time range needs a timed source (video)")
            t0, t1 = self.args
            mask = timestamps >= t0 if t1 is None else (timestamps >= t0) & (timestamps < t1)
            return np.flatnonzero(mask).astype(np.int64), none
        raise SpecError(f"unknown selection kind {self.kind!r}")
