"""Plugin system: hookspecs, defaults registered trylast, overrides, entry-point autoload."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import smolplug
from smolplug import FrameRequest, FrameSpec, PluginError, hookimpl
from smolplug.execute.executors import CallableExecutor
from smolplug.frames.jpegfiles import JpegFileReader
from smolplug.plugins import DEFAULT_PLUGINS, describe_plugins, get_plugin_manager

from .conftest import encode, synthetic_rgb


def test_defaults_registered_trylast(pm):
    names = [n for n, _ in pm.list_name_plugin()]
    for d in DEFAULT_PLUGINS:
        assert d in names
    for hook in ("smolplug_open_frames", "smolplug_make_executor"):
        impls = getattr(pm.hook, hook).get_hookimpls()
        assert impls and all(i.trylast for i in impls if i.plugin_name in DEFAULT_PLUGINS)


def test_hooks_are_firstresult(pm):
    for hook in ("smolplug_open_frames", "smolplug_make_executor"):
        assert getattr(pm.hook, hook).spec.opts["firstresult"]


def test_third_party_plugin_overrides_default(tmp_path):
    (tmp_path / "a.jpg").write_bytes(encode(synthetic_rgb(32, 32)))

    class Reader:
        pass

    class Plugin:
        @hookimpl
        def smolplug_open_frames(self, source, request):
            return Reader()

    pm = get_plugin_manager([Plugin()], autoload=False)
    req = FrameRequest(FrameSpec(8, 8))
    assert isinstance(smolplug.open_frames(tmp_path, req, pm=pm), Reader)
    # without it, the default serves the same source
    reader = smolplug.open_frames(tmp_path, req, pm=get_plugin_manager(autoload=False))
    assert isinstance(reader, JpegFileReader)
    reader.close()


def test_plugin_can_defer_with_none(tmp_path):
    (tmp_path / "a.jpg").write_bytes(encode(synthetic_rgb(32, 32)))
    seen = []

    class Plugin:
        @hookimpl
        def smolplug_open_frames(self, source, request):
            seen.append(source)
            return None

    pm = get_plugin_manager([Plugin()], autoload=False)
    with smolplug.open_frames(tmp_path, FrameRequest(FrameSpec(8, 8)), pm=pm) as reader:
        assert isinstance(reader, JpegFileReader)
    assert seen == [tmp_path]


def test_unserved_source_and_device_raise_plugin_error(pm):
    with pytest.raises(PluginError, match="smolplug_open_frames"):
        smolplug.open_frames(object(), FrameRequest(FrameSpec(8, 8)), pm=pm)
    with pytest.raises(PluginError, match="smolplug_make_executor"):
        smolplug.make_executor(lambda x: x, device="tpu", pm=pm)


def test_misspelled_hookimpl_is_caught():
    class Typo:
        @hookimpl
        def smolplug_open_frame(self, source, request):  # missing "s"
            return None

    with pytest.raises(Exception, match="unknown hook"):
        get_plugin_manager([Typo()], autoload=False)


def test_default_executor_runs_callables(pm):
    ex = smolplug.make_executor(lambda b: b.sum(axis=(1, 2, 3)), device="cpu", pm=pm)
    assert isinstance(ex, CallableExecutor)
    with ex:
        assert ex.run(np.ones((2, 3, 4, 4), np.float32)).tolist() == [48.0, 48.0]


def test_default_executor_runs_torch_modules_on_cpu(pm):
    torch = pytest.importorskip("torch", reason="torch not installed")
    model = torch.nn.Conv2d(3, 2, 1)
    ex = smolplug.make_executor(model, device="cpu", pm=pm)
    x = np.random.default_rng(0).random((2, 3, 8, 8), np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.allclose(ex.run(x), want, atol=1e-6)


@pytest.fixture
def entry_point_plugin(tmp_path, monkeypatch):
    """An installed-looking distribution exposing a plugin in the 'smolplug' entry-point group."""
    (tmp_path / "demo_smolplug_plugin.py").write_text(
        textwrap.dedent("""
        import smolplug

        @smolplug.hookimpl
        def smolplug_make_executor(model, device, options):
            if device == "demo":
                return "demo-executor"
    """)
    )
    dist = tmp_path / "demo_smolplug_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-smolplug-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[smolplug]\ndemo = demo_smolplug_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("demo_smolplug_plugin", None)


def test_entry_point_plugins_autoload(entry_point_plugin, monkeypatch):
    monkeypatch.delenv("SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pm = get_plugin_manager()
    assert smolplug.make_executor(None, device="demo", pm=pm) == "demo-executor"
    rows = {r["name"]: r for r in describe_plugins(pm)}
    assert rows["demo"]["origin"] == "demo-smolplug-plugin 1.0"
    assert rows["demo"]["hooks"] == ["smolplug_make_executor"]


def test_env_switch_disables_autoload(entry_point_plugin, monkeypatch):
    monkeypatch.setenv("SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = get_plugin_manager()
    assert "demo" not in [n for n, _ in pm.list_name_plugin()]
    with pytest.raises(PluginError):
        smolplug.make_executor(None, device="demo", pm=pm)


def test_managers_are_independent():
    a, b = get_plugin_manager(autoload=False), get_plugin_manager(autoload=False)

    class P:
        @hookimpl
        def smolplug_make_executor(self, model, device, options):
            return "p"

    a.register(P())
    assert a.hook.smolplug_make_executor(model=None, device="x", options={}) == "p"
    assert b.hook.smolplug_make_executor(model=None, device="x", options={}) is None
