"""Side-by-side benchmarks (importable, so the CLI and benchmarks/ share them)."""

from __future__ import annotations

from pathlib import Path


def cycled_jpegs(folder: str | Path, n: int) -> list[str]:
    """The folder's ``*.jpg`` files (sorted) repeated in turn to ``n`` paths, to fill a run;
    empty when the folder has none (callers say so)."""
    files = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    return [files[i % len(files)] for i in range(n)] if files else []
