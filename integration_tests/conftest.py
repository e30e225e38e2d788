"""Fixtures for the integration tests: the real street-scene video (skipped when ../shared/data
is absent), its working copy with low-res renditions, and the reference-model labels (computed
once with HOG, then cached in .it-cache/ or $SMOLPLUG_IT_CACHE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_tests.workload import DEFAULT_VIDEO, labels_for, prepare_video


@pytest.fixture(scope="session")
def source_video() -> Path:
    if not DEFAULT_VIDEO.is_file():
        pytest.skip(f"{DEFAULT_VIDEO} not found (set SMOLPLUG_SHARED_DATA or fetch ../shared/data)")
    return DEFAULT_VIDEO


@pytest.fixture(scope="session")
def video(source_video: Path) -> Path:
    """vtest.avi's working copy, with 288p and 144p renditions."""
    return prepare_video(source_video)


@pytest.fixture(scope="session")
def labels(source_video: Path):
    return labels_for(source_video)


@pytest.fixture(autouse=True)
def _plugins_off():
    """Every test starts and ends with the adapters off."""
    from smolplug.adapters import disable

    disable()
    yield
    disable()
