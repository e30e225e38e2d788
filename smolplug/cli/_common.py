"""Helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console


def _write_png(console: Console, write: Any, path: str) -> None:
    """Call ``write(Path(path))`` for a chart (creating its folder); say so when matplotlib is
    missing or the file cannot be written."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        console.print(f"wrote {write(Path(path))}")
    except ImportError:
        console.print("[yellow]matplotlib is not installed: no PNG (pip install matplotlib)[/yellow]")
    except OSError as e:
        console.print(f"[red]cannot write {path}: {e}[/red]")


def _load_models(console: Console, specs: Sequence[str]) -> list[tuple[str, Any]] | None:
    """``[NAME=]module:attr`` options -> models; None (after saying why) when one cannot load."""
    from ..plan.calibrate import load_model

    try:
        return [load_model(m) for m in specs]
    except (ValueError, ImportError, AttributeError) as e:
        console.print(f"[red]{e}[/red]")
        return None
