"""The package layout: the public API, entry points and commands stay where users find them;
every module imports on its own; imports at load time run one way through the stages; the
installed package does not import the source checkout's integration tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import smolplug

PKG = Path(smolplug.__file__).resolve().parent
ROOT = PKG.parent

#: load-time layer of each part of the package (longest matching prefix wins): a module may
#: import, at load time, only modules of its own layer or below. Imports inside functions
#: (run time) and under TYPE_CHECKING are not load-time imports.
LAYERS = {
    "smolplug.errors": 0,
    "smolplug.cache": 0,
    "smolplug.request": 0,
    "smolplug._binding": 0,
    "smolplug._native": 0,
    "smolplug._autoload": 0,
    "smolplug.plugins": 0,  # hook names only: no stage at load time
    "smolplug.jpeg": 1,
    "smolplug.frames.readers": 2,  # the reader interface
    "smolplug.frames": 3,  # and the readers implementing it
    "smolplug.video": 3,
    "smolplug.execute": 4,
    "smolplug.plan": 4,
    "smolplug.compat": 4,  # drop-in readers over the video stage
    "smolplug.ray": 4,  # Ray Data datasources over the readers (executors through api, at run time)
    "smolplug.explain": 4,  # incremental inference (occlusion, static cameras) over torch
    "smolplug.twostage": 4,  # detector -> crops -> broker -> second model (readers through api, at run time)
    "smolplug.frames.plugin": 5,  # the default hook implementations
    "smolplug.execute.plugin": 5,
    "smolplug.plan.plugin": 5,
    "smolplug.api": 6,
    "smolplug": 6,
    "smolplug.cli": 7,
    "smolplug.bench": 7,
}
#: modules allowed past ~300 lines, each one unit that would not split as a pure move
LONG_MODULES = {"video/decode.py": 400, "jpeg/decode.py": 340, "plan/calibrate.py": 320}


def layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"{module} has no layer in LAYERS")


def modules() -> list[tuple[str, Path]]:
    out = []
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if rel.name != "__main__":
            out.append((".".join(parts), f))
    return out


def load_time_imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import executed when ``module`` loads."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if _ours(target):
                    if node.module is None or target == "smolplug":  # from . import x: x may be a module
                        for a in node.names:
                            sub = f"{target}.{a.name}"
                            found.append((node.lineno, sub if _is_module(sub) else target))
                    else:
                        found.append((node.lineno, target))
            elif isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names if _ours(a.name))
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                for h in getattr(node, "handlers", []):
                    visit(h.body)
                visit(node.orelse)

    visit(tree.body)
    return found


def _ours(name: str) -> bool:
    return name == "smolplug" or name.startswith("smolplug.")


def _is_module(name: str) -> bool:
    p = ROOT / Path(*name.split("."))
    return p.is_dir() or p.with_suffix(".py").exists() or any(p.parent.glob(p.name + ".*.so"))


def test_public_api_is_where_users_import_it():
    for name in (
        "FrameSpec",
        "decode_jpeg",
        "decode_jpeg_batch",
        "probe_jpeg",
        "open_frames",
        "make_executor",
    ):
        assert callable(getattr(smolplug, name)), name
    for name in ("FrameRequest", "FrameBatch", "FrameReader", "Status", "SmolplugError", "hookimpl"):
        assert hasattr(smolplug, name), name
    from smolplug.jpeg import decode_jpeg, default_threads, native_error  # noqa: F401
    from smolplug.plugins import DEFAULT_PLUGINS, get_plugin_manager

    pm = get_plugin_manager(autoload=False)
    hooks = {h for h in dir(pm.hook) if h.startswith("smolplug_")}
    assert hooks == {
        "smolplug_open_frames",
        "smolplug_make_executor",
        "smolplug_estimate_cost",
        "smolplug_select_plan",
    }
    registered = {name for name, _ in pm.list_name_plugin()}
    assert set(DEFAULT_PLUGINS) <= registered
    assert smolplug.FrameSpec is smolplug.request.FrameSpec is smolplug.request.spec.FrameSpec


def test_entry_points_resolve():
    eps = metadata.entry_points()
    (script,) = [e for e in eps.select(group="console_scripts") if e.name == "smolplug"]
    assert script.value == "smolplug.cli:main"
    from smolplug.cli import main

    assert script.load() is main
    adapters = {e.name: e.value for e in eps.select(group="smolplug.adapters")}
    assert {"noscope_ref", "blazeit_ref", "evadb"} <= set(adapters)
    for value in adapters.values():
        assert metadata.EntryPoint(name="x", value=value, group="g").load() is not None


def test_cli_commands_are_unchanged():
    from smolplug.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == [
        "bench",
        "renditions",
        "plugins",
        "info",
        "demo",
        "calibrate",
        "profile",
        "plan",
        "adapters",
        "explain",
    ]


@pytest.mark.parametrize("module", [m for m, _ in modules()])
def test_each_module_imports_on_its_own(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_load_time_imports_run_one_way():
    wrong = []
    for module, path in modules():
        for line, target in load_time_imports(module, path):
            if layer(target) > layer(module):
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line} ({layer(module)}) imports {target} ({layer(target)})"
                )
    assert not wrong, "\n".join(wrong)


def test_only_the_demo_reaches_into_the_source_checkout():
    users = []
    for module, path in modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n.split(".")[0] == "integration_tests" for n in names):
                users.append(module)
    assert set(users) == {"smolplug.cli.demo"}


def test_modules_stay_small():
    big = {}
    for _, path in modules():
        rel = path.relative_to(PKG).as_posix()
        n = len(path.read_text().splitlines())
        if n > LONG_MODULES.get(rel, 300):
            big[rel] = n
    assert not big, big
