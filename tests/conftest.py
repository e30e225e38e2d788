"""Shared fixtures: real photos from ../shared/data (skipped when absent), generated
JPEG variants, and the Pillow reference pipeline every decode is compared with."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import smolplug
from smolplug.request.geometry import compute_geometry

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SMOLPLUG_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIXTURES = Path(__file__).resolve().parent / "data"


def shared_jpegs(subdir: str) -> list[Path]:
    d = DATA / "jpeg" / subdir
    files = sorted(d.glob("*.jpg")) if d.is_dir() else []
    if not files:
        pytest.skip(f"real photos not found in {d} (set SMOLPLUG_SHARED_DATA or fetch ../shared/data)")
    return files


@pytest.fixture(scope="session")
def photo_files() -> list[Path]:
    return shared_jpegs("photos")


@pytest.fixture(scope="session")
def imagenet_files() -> list[Path]:
    return shared_jpegs("imagenet")


def synthetic_rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    """Smooth gradients + one hard-edged block + mild noise: compresses like a photo, odd sizes
    allowed. (No periodic discontinuities: every DCT-domain downscale, libjpeg's own included,
    rings on those; the real-photo tests cover sharp content.)"""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blue = 128 + 90 * np.sin(xx / 13.0) * np.cos(yy / 17.0)
    img = np.stack([xx / max(w - 1, 1) * 255, yy / max(h - 1, 1) * 255, blue], -1)
    img[h // 4 : h // 2, w // 3 : 2 * w // 3] = (220, 30, 80)
    img += rng.normal(0, 3, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def encode(img: Image.Image, **opts) -> bytes:
    buf = io.BytesIO()
    opts.setdefault("quality", 92)
    img.save(buf, "JPEG", **opts)
    return buf.getvalue()


def full_decode(data: bytes, mode: str = "RGB", transpose_exif: bool = False) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    if transpose_exif:
        from PIL import ImageOps

        img = ImageOps.exif_transpose(img)
    return img.convert(mode)


def reference(
    data: bytes, spec: smolplug.FrameSpec, transpose_exif: bool = False, decoded: Image.Image | None = None
) -> np.ndarray:
    """Pillow full decode + the same geometry/resize/normalisation, as float32 in spec layout."""
    mode = "L" if spec.colorspace == "GRAY" else "RGB"
    img = decoded if decoded is not None else full_decode(data, mode, transpose_exif)
    g = compute_geometry(spec, *img.size)
    filt = Image.Resampling.BOX if spec.interpolation == "area" else Image.Resampling.BILINEAR
    patch = np.asarray(img.resize((g.dw, g.dh), filt, box=(g.sx, g.sy, g.sx + g.sw, g.sy + g.sh)), np.float32)
    if patch.ndim == 2:
        patch = patch[:, :, None]
    if spec.colorspace == "BGR":
        patch = patch[:, :, ::-1]
    frame = np.full((spec.height, spec.width, spec.channels), spec.fill, np.float32)
    frame[g.dy : g.dy + g.dh, g.dx : g.dx + g.dw] = patch
    scale, bias = spec.affine()
    frame = frame * np.asarray(scale, np.float32) + np.asarray(bias, np.float32)
    return frame.transpose(2, 0, 1) if spec.layout == "NCHW" else frame


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@pytest.fixture
def pm():
    """A fresh plugin manager per test (no entry-point plugins), checked for typos."""
    manager = smolplug.get_plugin_manager(autoload=False)
    manager.check_pending()
    return manager


@pytest.fixture
def jpeg_dir(tmp_path) -> Path:
    """A folder ``imgs/`` of four small generated JPEGs."""
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        (d / f"{i}.jpg").write_bytes(encode(synthetic_rgb(200, 150, seed=i)))
    return d


# -- the generated video corpus (tests/media.py), shared by the video and drop-in reader tests --
class Corpus:
    """The clips, each generated on first use into one directory for the whole session."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._built: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._built:
            self._built[name] = _media().build_corpus(self.directory, [name])[name]
        return self._built[name]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    with pytest.MonkeyPatch.context() as mp:
        # the readers' keyframe indexes go to a private cache, not the user's
        mp.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path_factory.mktemp("index-cache")))
        yield Corpus(tmp_path_factory.mktemp("corpus"))


def _media():
    from . import media  # imports PyAV: only where a test uses the corpus

    return media
