"""Host adapters: patch an engine's frame loading (and cost model) so its unchanged queries run
through smolplug.

One module per host, each exposing an :class:`Adapter` named ``adapter`` and registered under
the ``smolplug.adapters`` entry-point group. An adapter patches its host module when that module
is imported (or at once if it already is) and restores every patched attribute on ``disable()``.

``SMOLPLUG=1`` in the environment enables every registered adapter at interpreter start-up
(through ``smolplug-autoload.pth``, like OpenTelemetry's auto-instrumentation);
``SMOLPLUG=noscope_ref,evadb`` enables only the named ones. In code::

    from smolplug.adapters import enable
    enable("evadb")            # or enable() for all of them
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from ..errors import PluginError

GROUP = "smolplug.adapters"


class Patcher:
    """Records attribute replacements so they can be undone in reverse order."""

    _MISSING = object()

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        self._undo.append((obj, name, obj.__dict__.get(name, self._MISSING)))
        setattr(obj, name, value)

    def undo(self) -> None:
        while self._undo:
            obj, name, old = self._undo.pop()
            if old is self._MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)


@dataclass
class Adapter:
    """Patches host module ``target`` with ``apply(module, patcher, options)``."""

    name: str
    target: str
    apply: Callable[[ModuleType, Patcher, dict[str, Any]], None]
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    _patcher: Patcher | None = None
    _pending: bool = False

    @property
    def enabled(self) -> bool:
        return self._patcher is not None or self._pending

    @property
    def active(self) -> bool:
        """The host module is imported and patched."""
        return self._patcher is not None

    def enable(self, **options: Any) -> Adapter:
        """Patch the host now if it is imported, else as soon as it is. Options are the
        adapter's (see its module); enabling again with other options re-patches."""
        if self.enabled:
            self.disable()
        self.options = dict(options)
        module = sys.modules.get(self.target)
        if module is not None and getattr(module, "__spec__", None) is not None:
            self._patch(module)
        else:
            self._pending = True
            _hook.watch(self.target, self._on_import)
        return self

    def disable(self) -> None:
        """Restore everything the adapter replaced."""
        self._pending = False
        _hook.unwatch(self.target, self._on_import)
        if self._patcher is not None:
            self._patcher.undo()
            self._patcher = None

    def _on_import(self, module: ModuleType) -> None:
        if self._pending:
            self._pending = False
            self._patch(module)

    def _patch(self, module: ModuleType) -> None:
        patcher = Patcher()
        try:
            self.apply(module, patcher, self.options)
        except BaseException:
            patcher.undo()
            raise
        self._patcher = patcher

    def __enter__(self) -> Adapter:
        if not self.enabled:
            self.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disable()


# -- post-import hooks ---------------------------------------------------------------------------
class _PostImportHook(importlib.abc.MetaPathFinder):
    """Runs callbacks right after a watched module has executed (like wrapt's post-import hooks)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._watch: dict[str, list[Callable[[ModuleType], None]]] = {}
        self._busy: set[str] = set()

    def watch(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        with self._lock:
            self._watch.setdefault(name, []).append(callback)
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def unwatch(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        with self._lock:
            cbs = self._watch.get(name, [])
            if callback in cbs:
                cbs.remove(callback)
            if not cbs:
                self._watch.pop(name, None)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._watch or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_notify(module: ModuleType) -> None:
            exec_module(module)
            for cb in list(self._watch.get(fullname, [])):
                cb(module)

        spec.loader = _Loader(loader, exec_and_notify)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, exec_module: Callable[[ModuleType], None]):
        self._inner = inner
        self._exec = exec_module

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._exec(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


_hook = _PostImportHook()


# -- registry ------------------------------------------------------------------------------------
def available() -> dict[str, str]:
    """Registered adapters: name -> module (entry-point group ``smolplug.adapters``)."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def get(name: str) -> Adapter:
    """The adapter registered as ``name``."""
    table = available()
    if name not in table:
        raise PluginError(
            f"no smolplug adapter named {name!r} (registered: {', '.join(sorted(table)) or 'none'})"
        )
    module = importlib.import_module(table[name].split(":")[0])
    adapter = getattr(module, "adapter", None)
    if not isinstance(adapter, Adapter):
        raise PluginError(f"{table[name]} does not define an Adapter named 'adapter'")
    return adapter


def enable(*names: str, **options: Any) -> list[Adapter]:
    """Enable the named adapters (all registered ones when none is named)."""
    return [get(n).enable(**options) for n in (names or sorted(available()))]


def disable(*names: str) -> None:
    for n in names or sorted(available()):
        get(n).disable()


def enable_from_env(value: str, *, warn: Callable[[str], None] | None = None) -> list[Adapter]:
    """``SMOLPLUG`` semantics: "1"/"true"/"all" enables all adapters; a comma list names them."""
    v = value.strip().lower()
    if v in ("", "0", "false", "off", "no"):
        return []
    names: Iterable[str] = (
        () if v in ("1", "true", "on", "yes", "all") else [n.strip() for n in v.split(",") if n.strip()]
    )
    out = []
    for n in names or sorted(available()):
        try:
            out.append(get(n).enable())
        except Exception as e:  # start-up must never break the host
            (warn or (lambda m: print(m, file=sys.stderr)))(f"smolplug: adapter {n!r} not enabled: {e}")
    return out


# -- start-up hook -------------------------------------------------------------------------------
PTH_NAME = "smolplug-autoload.pth"


def autoload_path() -> Any:
    """Where ``smolplug-autoload.pth`` belongs: this environment's site-packages."""
    import sysconfig
    from pathlib import Path

    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


def install_autoload() -> Any:
    """Put ``smolplug-autoload.pth`` into site-packages (wheels ship it; editable installs do
    not, so ``scripts/bootstrap`` calls this). Idempotent; returns the path."""
    from importlib.resources import files

    text = files("smolplug").joinpath(PTH_NAME).read_text()
    path = autoload_path()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
