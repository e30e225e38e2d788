"""The adapter machinery: reversible patches, post-import hooks, registry, SMOLPLUG parsing."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest

from smolplug.adapters import Adapter, Patcher, available, enable_from_env, get
from smolplug.errors import PluginError


class Host:
    def load(self):
        return "host"


def test_patcher_undoes_in_reverse_order_and_removes_added_attributes():
    p = Patcher()
    original = Host.load
    p.setattr(Host, "load", lambda self: "first")
    p.setattr(Host, "load", lambda self: "second")
    p.setattr(Host, "extra", 1)
    assert Host().load() == "second" and Host.extra == 1
    p.undo()
    assert Host.load is original and not hasattr(Host, "extra")


def _module_source(tmp_path, name: str) -> None:
    (tmp_path / f"{name}.py").write_text("class Engine:\n    def load(self):\n        return 'original'\n")


def _apply(module, patcher, options):
    patcher.setattr(module.Engine, "load", lambda self: f"patched {options.get('tag', '')}".strip())


def test_adapter_patches_a_host_when_it_is_imported_later(tmp_path, monkeypatch):
    name = "smolplug_test_host_late"
    _module_source(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    a = Adapter("t", name, _apply)
    a.enable(tag="x")
    try:
        assert a.enabled and not a.active
        mod = __import__(name)
        assert mod.Engine().load() == "patched x"
        assert a.active
    finally:
        a.disable()
        sys.modules.pop(name, None)
    assert mod.Engine().load() == "original"


def test_adapter_patches_an_imported_host_at_once_and_reenables_with_new_options(tmp_path, monkeypatch):
    name = "smolplug_test_host_now"
    _module_source(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = __import__(name)
    a = Adapter("t", name, _apply)
    try:
        with a:
            assert mod.Engine().load() == "patched"
            a.enable(tag="y")
            assert mod.Engine().load() == "patched y"
        assert mod.Engine().load() == "original"
    finally:
        sys.modules.pop(name, None)


def test_a_failing_patch_leaves_the_host_untouched():
    host = types.ModuleType("smolplug_test_failing")
    host.__spec__ = importlib.machinery.ModuleSpec(host.__name__, None)
    host.Engine = type("Engine", (), {"load": lambda self: "original"})
    sys.modules[host.__name__] = host

    def bad(module, patcher, options):
        patcher.setattr(module.Engine, "load", lambda self: "half-patched")
        raise RuntimeError("host version not supported")

    try:
        with pytest.raises(RuntimeError, match="not supported"):
            Adapter("bad", host.__name__, bad).enable()
        assert host.Engine().load() == "original"
    finally:
        sys.modules.pop(host.__name__)


def test_registry_lists_the_bundled_adapters_and_rejects_unknown_names():
    assert {"noscope_ref", "blazeit_ref", "evadb"} <= set(available())
    assert get("evadb").target == "evadb.storage.video_storage_engine"
    with pytest.raises(PluginError, match="no smolplug adapter named 'nope'"):
        get("nope")


@pytest.mark.parametrize("value", ["", "0", "false", "off", "No"])
def test_smolplug_env_values_that_enable_nothing(value):
    assert enable_from_env(value) == []


def test_smolplug_env_names_adapters_and_warns_about_unknown_ones():
    warnings: list[str] = []
    try:
        got = enable_from_env("blazeit_ref, nope", warn=warnings.append)
        assert [a.name for a in got] == ["blazeit_ref"]
        assert len(warnings) == 1 and "nope" in warnings[0]
    finally:
        get("blazeit_ref").disable()


def test_evadb_frame_ids_follow_its_reader_loop():
    from smolplug.adapters.evadb import frame_ids

    assert frame_ids([(0, 9)], 1, None) == list(range(10))
    assert frame_ids([(3, 20)], 4, None) == [4, 8, 12, 16, 20]  # aligned to the sampling rate
    assert frame_ids([(0, 4), (10, 12)], 1, None) == [0, 1, 2, 3, 4, 10, 11, 12]
    keys = [0, 250, 500, 750]
    assert frame_ids([(0, 794)], 1, keys) == keys
    assert frame_ids([(0, 794)], 2, keys) == [0, 500]  # SAMPLE IFRAMES 2
    assert frame_ids([(300, 794)], 2, keys) == [500]  # EvaDB steps by the rate while skipping too
    assert frame_ids([(100, 200)], 1, keys) == []


def test_score_frames_pipelines_in_frame_order_and_names_missing_frames(tmp_path):
    import numpy as np

    from smolplug.adapters._frames import load_frames, score_frames
    from smolplug.errors import MissingFrameError
    from smolplug.request.spec import FrameSpec
    from tests.conftest import encode, synthetic_rgb

    for i in range(7):
        (tmp_path / f"{i:02d}.jpg").write_bytes(encode(synthetic_rgb(64 + 8 * i, 48, seed=i)))
    files = sorted(tmp_path.glob("*.jpg"))
    spec = FrameSpec(32, 32, layout="NCHW", dtype="float32")
    want = [0, 2, 3, 4, 6]
    got = score_frames(files, want, spec, lambda b: b.mean(axis=(1, 2, 3)), batch_size=2)
    ref = load_frames(files, want, spec).data.mean(axis=(1, 2, 3))
    assert got.indices.tolist() == want
    np.testing.assert_allclose(got.values, ref, rtol=1e-6)
    assert got.times.batches == 3 and got.times.frames == 5

    files[3].write_bytes(b"not a jpeg")
    with pytest.raises(MissingFrameError, match=r"1 requested frame\(s\) not delivered: 3: "):
        score_frames(files, want, spec, lambda b: b.mean(axis=(1, 2, 3)), batch_size=2)
    with pytest.raises(ValueError, match="ascending"):
        score_frames(files, [2, 1], spec, lambda b: b)
