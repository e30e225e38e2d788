"""``SMOLPLUG`` at interpreter start-up: the ``.pth`` hook loads only the stdlib watcher
(``smolplug_autoload``); an adapter, and smolplug, are imported when its host module is.

The subprocess tests run fresh interpreters of this environment, so they go through the
installed ``smolplug-autoload.pth``, with a fake host and fake adapters registered by a
``*.dist-info`` on ``PYTHONPATH`` (as a third-party package registers its adapter)."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import pytest

import smolplug_autoload
from smolplug.adapters import GROUP, PTH_NAME, autoload_path, available, declared_targets, get

HOST = "smolplug_fakehost.io"
HEAVY = ("smolplug", "numpy", "pluggy", "rich", "cffi", "av", "PIL", "importlib.metadata")

ADAPTER_MODULE = """
from smolplug.adapters import Adapter


def _apply(module, patcher, options):
    if {broken}:
        raise RuntimeError("host version not supported")
    patcher.setattr(module.Engine, "load", lambda self: "patched by {name}")


adapter = Adapter({name!r}, {target!r}, _apply, "fake host for the start-up tests")
"""


@pytest.fixture(scope="module")
def installed_pth() -> Path:
    """The start-up hook as this package ships it (what the subprocess tests go through)."""
    pth = Path(autoload_path())
    shipped = files("smolplug").joinpath(PTH_NAME).read_text()
    if not pth.exists() or pth.read_text() != shipped:
        pytest.fail(
            f"{pth} missing or outdated: run `smolplug adapters --install-autoload` (scripts/bootstrap does)"
        )
    return pth


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A path entry with a host package, adapters for it and their distribution's metadata:
    ``fake`` (declares its target) and ``broken`` (its patch fails); ``legacy`` (declares no
    target) has a module but is registered only by :func:`register_legacy`."""
    root = tmp_path / "site"
    (root / "smolplug_fakehost").mkdir(parents=True)
    (root / "smolplug_fakehost" / "__init__.py").write_text("")
    (root / "smolplug_fakehost" / "io.py").write_text(
        "class Engine:\n    def load(self):\n        return 'original'\n"
    )
    for name, broken in (("fake", False), ("legacy", False), ("broken", True)):
        source = ADAPTER_MODULE.format(name=name, target=HOST, broken=broken)
        (root / f"smolplug_{name}_adapter.py").write_text(source)
    dist = root / "smolplug_fake_adapters-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: smolplug-fake-adapters\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [smolplug.adapters]
            fake = smolplug_fake_adapter
            broken = smolplug_broken_adapter

            [smolplug.adapter_targets]
            fake = {HOST}
            broken = {HOST}
            """)
    )
    return root


def register_legacy(site: Path) -> None:
    """A second distribution registering ``legacy`` without a ``smolplug.adapter_targets`` entry
    (as adapters written before it existed do)."""
    dist = site / "smolplug_legacy_adapter-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text("[smolplug.adapters]\nlegacy = smolplug_legacy_adapter\n")


def run_python(site: Path, smolplug_env: str | None, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SMOLPLUG", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    env["COLUMNS"] = "250"  # rich tables unwrapped
    if smolplug_env is not None:
        env["SMOLPLUG"] = smolplug_env
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=site.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def last_json(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


PROBE = f"""
    import json, sys
    heavy = sorted(m for m in sys.modules if m in {HEAVY!r} or m.split(".")[0] in {HEAVY!r})
    watcher = "smolplug_autoload" in sys.modules
    finder = any(type(f).__name__ == "PostImportHook" for f in sys.meta_path)
    import smolplug_fakehost.io as host
    print(json.dumps({{
        "heavy_at_start": heavy, "watcher": watcher, "finder": finder,
        "load": host.Engine().load(), "real_loader": type(host.__loader__).__name__,
        "smolplug_after_host": "smolplug" in sys.modules,
    }}))
"""


def test_start_up_imports_only_the_watcher_and_the_host_import_patches(installed_pth, site):
    got = last_json(run_python(site, "1", PROBE))
    assert got["heavy_at_start"] == [], "SMOLPLUG=1 start-up imported smolplug or its dependencies"
    assert got["watcher"] and got["finder"]
    assert got["load"] == "patched by fake"
    assert got["real_loader"] == "SourceFileLoader"  # the host keeps its own loader
    assert got["smolplug_after_host"]


def test_start_up_adds_no_module_but_the_watcher(installed_pth, site):
    code = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    off = set(last_json_list(run_python(site, None, code)))
    on = set(last_json_list(run_python(site, "1", code)))
    assert on - off == {"smolplug_autoload"}


def last_json_list(proc: subprocess.CompletedProcess[str]) -> list:
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("value", [None, "", "0", "off", "No"])
def test_unset_or_off_installs_nothing(installed_pth, site, value):
    proc = run_python(site, value, PROBE)
    got = last_json(proc)
    assert not got["watcher"] and not got["finder"]
    assert got["load"] == "original" and not got["smolplug_after_host"]
    assert proc.stderr == ""


def test_named_adapters_only_and_unknown_names_warned_at_start_up(installed_pth, site):
    code = """
        import json, sys
        sys.stderr.flush()
        print("host import", file=sys.stderr)
        import smolplug_autoload as s, smolplug_fakehost.io as host
        print(json.dumps({"waiting": sorted(s._waiting), "load": host.Engine().load()}))
    """
    proc = run_python(site, "Fake, nope", code)
    got = last_json(proc)
    assert got == {"waiting": [], "load": "patched by fake"}
    warning, marker = proc.stderr.splitlines()
    assert warning.startswith("smolplug: adapter 'nope' not enabled: no smolplug adapter named 'nope'")
    assert "fake" in warning and "noscope_ref" in warning  # the registered names
    assert marker == "host import"  # reported at start-up, before any host import


def test_every_registered_adapter_waits_for_its_own_host(installed_pth, site):
    code = """
        import json, smolplug_autoload as s
        print(json.dumps({n: s.waiting(n) for n in sorted(s._waiting)}))
    """
    got = last_json(run_python(site, "all", code))
    bundled = declared_targets()
    assert got == {**bundled, "fake": HOST, "broken": HOST}


def test_an_adapter_without_a_declared_target_is_enabled_at_start_up(installed_pth, site):
    register_legacy(site)
    code = """
        import json, sys
        import smolplug_autoload as s
        at_start = "smolplug" in sys.modules
        waiting = sorted(s._waiting)
        import smolplug_fakehost.io as host
        print(json.dumps({"at_start": at_start, "waiting": waiting, "load": host.Engine().load()}))
    """
    got = last_json(run_python(site, "legacy", code))
    assert got == {"at_start": True, "waiting": [], "load": "patched by legacy"}
    got = last_json(run_python(site, "1", code))  # loads smolplug for it, the others still wait
    assert got["at_start"] and "fake" in got["waiting"] and "legacy" not in got["waiting"]


def test_a_failing_patch_is_reported_and_the_host_still_imports(installed_pth, site):
    code = """
        import json, smolplug_fakehost.io as host
        from smolplug.adapters import get
        print(json.dumps({"load": host.Engine().load(), "enabled": get("broken").enabled}))
    """
    proc = run_python(site, "broken", code)
    assert last_json(proc) == {"load": "original", "enabled": False}
    assert "smolplug: adapter 'broken' not enabled: host version not supported" in proc.stderr


def test_smolplug_adapters_shows_the_start_up_state(installed_pth, site):
    code = """
        from smolplug.cli import main
        main(["adapters"])
        import smolplug_fakehost.io
        main(["adapters"])
    """
    register_legacy(site)
    out = run_python(site, "fake", code).stdout
    before, after = out.split("SMOLPLUG=1 start-up hook")[:2]
    rows = {line.split()[1]: line for line in before.splitlines() if line.startswith("│ ")}
    assert "enabled (waiting for import)" in rows["fake"] and HOST in rows["fake"]
    assert "│ off " in rows["noscope_ref"] and "│ off " in rows["legacy"]
    rows = {line.split()[1]: line for line in after.splitlines() if line.startswith("│ ")}
    assert "│ active " in rows["fake"]


def test_disable_cancels_a_start_up_wait(installed_pth, site):
    code = """
        import json
        from smolplug.adapters import get
        adapter = get("fake")
        waiting = adapter.enabled
        adapter.disable()
        import smolplug_fakehost.io as host
        print(json.dumps({"waiting": waiting, "enabled": adapter.enabled, "load": host.Engine().load()}))
    """
    assert last_json(run_python(site, "fake", code)) == {
        "waiting": True,
        "enabled": False,
        "load": "original",
    }


# -- in this process: the watcher's view of the registry ----------------------------------------
def test_the_watcher_reads_the_registry_as_importlib_metadata_does():
    table = smolplug_autoload.registered()
    assert {name: module for name, (module, _) in table.items()} == available()
    declared = {name: target for name, (_, target) in table.items() if target is not None}
    assert declared == declared_targets()


@pytest.mark.parametrize("name", ["noscope_ref", "blazeit_ref", "evadb"])
def test_bundled_adapters_declare_the_module_they_patch(name):
    assert declared_targets()[name] == get(name).target


def test_registry_on_given_path_entries_matches_importlib_metadata(site, tmp_path, monkeypatch):
    register_legacy(site)
    assert smolplug_autoload.registered([str(site)]) == {
        "fake": ("smolplug_fake_adapter", HOST),
        "broken": ("smolplug_broken_adapter", HOST),
        "legacy": ("smolplug_legacy_adapter", None),
    }
    # an older copy of the same distribution earlier on the path hides the later one
    shadow = tmp_path / "shadow" / "smolplug_fake_adapters-0.9.dist-info"
    shadow.mkdir(parents=True)
    (shadow / "entry_points.txt").write_text("[smolplug.adapters]\nfake = old_module\n")
    paths = [str(shadow.parent), str(site)]
    table = smolplug_autoload.registered(paths)
    assert table == {"fake": ("old_module", None), "legacy": ("smolplug_legacy_adapter", None)}
    monkeypatch.setattr(sys, "path", paths)
    assert {n: m for n, (m, _) in table.items()} == {ep.name: ep.value for ep in entry_points(group=GROUP)}


@pytest.mark.parametrize(
    "value, names",
    [
        ("", None),
        ("0", None),
        (" OFF ", None),
        ("1", []),
        ("all", []),
        ("evadb, Fake,evadb", ["evadb", "fake"]),
    ],
)
def test_smolplug_values(value, names):
    assert smolplug_autoload.parse(value) == names


def test_the_post_import_hook_leaves_the_real_loader_on_the_module(tmp_path, monkeypatch):
    name = "smolplug_test_loader_kept"
    (tmp_path / f"{name}.py").write_text(
        "import sys\nSEEN = type(sys.modules[__name__].__loader__).__name__\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    smolplug_autoload.hook.watch(name, seen.append)
    try:
        mod = __import__(name)
    finally:
        smolplug_autoload.hook.unwatch(name, seen.append)
        sys.modules.pop(name, None)
    assert seen == [mod]
    assert mod.SEEN == "SourceFileLoader" and isinstance(mod.__loader__, importlib.machinery.SourceFileLoader)
    assert name not in smolplug_autoload.hook.watched()
