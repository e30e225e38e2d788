"""The heatmap drawn over the image (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def to_rgb(x: np.ndarray, fields: dict[str, Any]) -> np.ndarray:
    """A normalised (C, H, W) model input back to (H, W, 3) uint8 for display."""
    mean = np.asarray(fields.get("mean", (0.0, 0.0, 0.0)), np.float64)[:, None, None]
    std = np.asarray(fields.get("std", (1.0, 1.0, 1.0)), np.float64)[:, None, None]
    scale = float(fields.get("value_scale", 1.0 / 255.0))
    v = (np.asarray(x, np.float64) * std + mean) / scale
    return np.clip(v, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)


def write_png(rgb: np.ndarray, attribution: np.ndarray, path: Path, title: str = "") -> Path:
    """``rgb`` (H, W, 3) with ``attribution`` (H, W) over it: red where occluding lowers the
    target's score, blue where it raises it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = float(np.abs(attribution).max()) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    axes[0].imshow(rgb)
    axes[0].set_title("input")
    axes[1].imshow(rgb.mean(axis=2), cmap="gray", alpha=1.0)
    im = axes[1].imshow(attribution, cmap="bwr", vmin=-lim, vmax=lim, alpha=0.6)
    axes[1].set_title("occlusion: score drop")
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
