"""Host adapters: patch an engine's frame loading (and cost model) so its unchanged queries run
through smolplug.

One module per host, each exposing an :class:`Adapter` named ``adapter`` and registered under
the ``smolplug.adapters`` entry-point group. An adapter patches its host module when that module
is imported (or at once if it already is) and restores every patched attribute on ``disable()``.

``SMOLPLUG=1`` in the environment enables every registered adapter at interpreter start-up
(through ``smolplug-autoload.pth``, like OpenTelemetry's auto-instrumentation);
``SMOLPLUG=noscope_ref,evadb`` enables only the named ones. Start-up only watches the host
modules (the top-level module ``smolplug_autoload``, standard library only); an adapter and
smolplug are imported when its host module is. In code::

    from smolplug.adapters import enable
    enable("evadb")            # or enable() for all of them
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import smolplug_autoload as startup

from ..errors import PluginError

GROUP = startup.ADAPTERS_GROUP
TARGETS_GROUP = startup.TARGETS_GROUP  # name -> host module, read at start-up without importing


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
        """Patched, or waiting for the host (here or in the start-up watcher)."""
        return self._patcher is not None or self._pending or startup.waiting(self.name) is not None

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
        startup.cancel(self.name)
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


# one post-import hook for start-up and for enable() (a finder on sys.meta_path)
_hook = startup.hook


# -- registry ------------------------------------------------------------------------------------
def available() -> dict[str, str]:
    """Registered adapters: name -> module (entry-point group ``smolplug.adapters``)."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def declared_targets() -> dict[str, str]:
    """Host modules declared for the registered adapters (entry-point group
    ``smolplug.adapter_targets``): what the start-up watcher waits for."""
    return {ep.name: ep.value for ep in entry_points(group=TARGETS_GROUP)}


def get(name: str) -> Adapter:
    """The adapter registered as ``name``."""
    table = available()
    if name not in table:
        raise PluginError(
            f"no smolplug adapter named {name!r} (registered: {', '.join(sorted(table)) or 'none'})"
        )
    return load(name, table[name])


def load(name: str, value: str) -> Adapter:
    """The adapter of entry point ``name = value`` (``value``: the module defining ``adapter``)."""
    module = importlib.import_module(value.split(":")[0].strip())
    adapter = getattr(module, "adapter", None)
    if not isinstance(adapter, Adapter):
        raise PluginError(f"{value} does not define an Adapter named 'adapter'")
    return adapter


def enable(*names: str, **options: Any) -> list[Adapter]:
    """Enable the named adapters (all registered ones when none is named)."""
    return [get(n).enable(**options) for n in (names or sorted(available()))]


def disable(*names: str) -> None:
    for n in names or sorted(available()):
        get(n).disable()


def enable_from_env(value: str, *, warn: Callable[[str], None] | None = None) -> list[Adapter]:
    """``SMOLPLUG`` semantics, enabling here and now (start-up uses ``smolplug_autoload.start``,
    which imports an adapter only with its host): "1"/"true"/"all" enables all adapters; a
    comma list names them."""
    names = startup.parse(value)
    if names is None:
        return []
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
