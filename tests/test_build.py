"""The build script names the package to install when libjpeg-turbo headers are missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parent.parent / "native" / "build_native.py"


@pytest.fixture
def build_module(monkeypatch):
    monkeypatch.setenv("SMOLPLUG_SKIP_JPEG_PROBE", "1")  # import without probing
    spec = importlib.util.spec_from_file_location("build_native_under_test", BUILD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_probe_passes_on_this_machine(build_module):
    build_module.check_libjpeg([], [])  # would sys.exit on failure


def test_missing_headers_name_the_package(build_module, tmp_path, monkeypatch):
    # a compiler whose include path has no jpeglib.h: wrap cc, hiding the real header
    fake_inc = tmp_path / "inc"
    fake_inc.mkdir()
    (fake_inc / "jpeglib.h").write_text('#error "jpeglib.h: No such file or directory"\n')
    monkeypatch.setenv("CC", f"cc -I{fake_inc}")
    with pytest.raises(SystemExit) as info:
        build_module.check_libjpeg([], [])
    msg = str(info.value)
    assert "libjpeg62-turbo-dev" in msg and "libjpeg-turbo-devel" in msg and "jpeglib.h" in msg


def test_missing_compiler_is_named(build_module, tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(SystemExit, match="no C compiler"):
        build_module.check_libjpeg([], [])


def test_old_libjpeg_is_rejected(build_module, tmp_path, monkeypatch):
    fake_inc = tmp_path / "inc"
    fake_inc.mkdir()
    (fake_inc / "jpeglib.h").write_text("#define LIBJPEG_TURBO_VERSION_NUMBER 1004000\n")
    monkeypatch.setenv("CC", f"cc -I{fake_inc}")
    with pytest.raises(SystemExit, match="too old"):
        build_module.check_libjpeg([], [])
