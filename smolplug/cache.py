"""Where smolplug keeps what it computes once: video indexes, renditions, calibration profiles,
exported models."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``SMOLPLUG_CACHE_DIR``, else ``$XDG_CACHE_HOME/smolplug``, else ``~/.cache/smolplug``."""
    env = os.environ.get("SMOLPLUG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smolplug"
