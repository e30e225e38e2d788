"""``SMOLPLUG`` at interpreter start-up: watch the host modules, load smolplug only for a host.

``smolplug-autoload.pth`` imports this module when ``SMOLPLUG`` is set in the environment, in
every Python process of that environment. It therefore uses nothing but ``sys``, ``os`` and
``_thread`` and never imports the ``smolplug`` package (whose import pulls in numpy, pluggy,
rich, cffi and PyAV): it reads which adapters are registered, and which host module each one
patches, from the entry-point metadata of the installed distributions, and puts a post-import
hook on those host modules. When one of them is imported, its adapter is loaded and enabled
(``Adapter.enable()``: patched right after the host module has executed, reversible).

Entry points (a distribution's ``entry_points.txt``)::

    [smolplug.adapters]          # name = module defining `adapter`, a smolplug.adapters.Adapter
    evadb = smolplug.adapters.evadb
    [smolplug.adapter_targets]   # name = the host module whose import loads that adapter
    evadb = evadb.storage.video_storage_engine

An adapter without a ``smolplug.adapter_targets`` entry still works: it is loaded and enabled
at start-up, which imports smolplug there (the cost this module exists to avoid).

Errors never reach the host: an unknown name in ``SMOLPLUG``, an adapter that cannot be
imported or a patch that fails are reported on stderr and the host runs unpatched.
"""

from __future__ import annotations

import os
import sys
from _thread import RLock

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing and collections.abc are not loaded at start-up
    from collections.abc import Callable
    from types import ModuleType

ENV = "SMOLPLUG"
ADAPTERS_GROUP = "smolplug.adapters"
TARGETS_GROUP = "smolplug.adapter_targets"
OFF = ("", "0", "false", "off", "no")
ALL = ("1", "true", "on", "yes", "all")


def parse(value: str) -> list[str] | None:
    """``SMOLPLUG`` semantics: None enables nothing ("", "0", "false", "off", "no"); an empty
    list enables every registered adapter ("1", "true", "on", "yes", "all"); else the names of
    a comma-separated list, in order."""
    v = value.strip().lower()
    if v in OFF:
        return None
    if v in ALL:
        return []
    return list(dict.fromkeys(n.strip() for n in v.split(",") if n.strip()))


# -- entry points, read without importlib.metadata ---------------------------------------------
# importlib.metadata would add ~75 ms and ~4.5 MB to every process (benchmarks/startup.py): its
# import pulls in email, zipfile and csv, and entry_points() parses every distribution's file.
# At start-up only two groups matter, so each distribution's entry_points.txt is read as bytes
# and parsed only when it mentions them.
_MARKER = b"[smolplug.adapter"


def registered(paths: list[str] | None = None) -> dict[str, tuple[str, str | None]]:
    """Adapters registered on ``paths`` (default ``sys.path``): name -> (adapter module, target
    module or None). Like ``importlib.metadata``: the first distribution of a name on the path
    counts, and a later one registering the same adapter name wins."""
    adapters: dict[str, str] = {}
    targets: dict[str, str] = {}
    seen: set[str] = set()
    for entry in sys.path if paths is None else paths:
        try:
            listing = os.scandir(entry or ".")
        except OSError:  # not a directory (a zip, a missing path)
            continue
        with listing:
            for item in listing:
                name = item.name
                if name.endswith(".dist-info"):
                    stem = name[:-10]
                elif name.endswith(".egg-info"):
                    stem = name[:-9]
                else:
                    continue
                dist = stem.partition("-")[0].lower().replace(".", "_")
                if dist in seen:
                    continue
                seen.add(dist)
                text = _read(item.path + "/entry_points.txt")
                if text is None or _MARKER not in text:
                    continue
                groups = _sections(text.decode("utf-8", "replace"))
                adapters.update(groups.get(ADAPTERS_GROUP, {}))
                targets.update(groups.get(TARGETS_GROUP, {}))
    return {
        name: (value, _module(targets[name]) if name in targets else None) for name, value in adapters.items()
    }


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def _sections(text: str) -> dict[str, dict[str, str]]:
    """The groups of an entry_points.txt (an INI file: ``[group]``, then ``name = value``)."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            current = out.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            name, _, value = line.partition("=")
            current[name.strip()] = value.strip()
    return out


def _module(value: str) -> str:
    """The module of an entry-point value (``module:attr [extras]``)."""
    return value.partition(":")[0].partition("[")[0].strip()


# -- post-import hooks -------------------------------------------------------------------------
class PostImportHook:
    """A ``sys.meta_path`` finder that runs callbacks right after a watched module has executed
    (like wrapt's post-import hooks). The module keeps its real loader."""

    def __init__(self) -> None:
        self._lock = RLock()
        self._watch: dict[str, list[Callable[[ModuleType], None]]] = {}
        self._busy: set[str] = set()

    def watch(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        with self._lock:
            self._watch.setdefault(name, []).append(callback)
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def unwatch(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        with self._lock:
            callbacks = self._watch.get(name, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._watch.pop(name, None)

    def watched(self) -> list[str]:
        with self._lock:
            return sorted(self._watch)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if fullname not in self._watch or fullname in self._busy:
            return None
        self._busy.add(fullname)  # a finder below may look the name up again
        try:
            spec = None
            for finder in list(sys.meta_path):
                find_spec = getattr(finder, "find_spec", None)
                if finder is self or find_spec is None:
                    continue
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        if spec is None or getattr(spec.loader, "exec_module", None) is None:
            return spec
        spec.loader = _NotifyingLoader(spec.loader, self)
        return spec

    def _notify(self, module: ModuleType) -> None:
        with self._lock:
            callbacks = list(self._watch.get(module.__name__, []))
        for callback in callbacks:
            callback(module)


class _NotifyingLoader:
    """Wraps a module's loader for one import: executes it, then runs the hook's callbacks."""

    def __init__(self, inner: object, hook: PostImportHook) -> None:
        self._inner = inner
        self._hook = hook

    def create_module(self, spec: object) -> object:
        return self._inner.create_module(spec)  # type: ignore[attr-defined]

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._inner  # the module (and inspect, importlib.resources) see the real one
        if module.__spec__ is not None:
            module.__spec__.loader = self._inner  # type: ignore[assignment]
        self._inner.exec_module(module)  # type: ignore[attr-defined]
        self._hook._notify(module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


hook = PostImportHook()


# -- start-up ------------------------------------------------------------------------------------
# adapter name -> (target module, callback) for the adapters waiting for their host module
_waiting: dict[str, tuple[str, Callable[[ModuleType], None]]] = {}
# what start() from the environment returned: site may run a .pth line twice (CPython 3.11's
# site.py does in a venv), and the second run must neither warn nor enable again
_from_env: list[str] | None = None


def start(value: str | None = None, *, warn: Callable[[str], None] | None = None) -> list[str]:
    """Enable the adapters ``value`` (default: ``$SMOLPLUG``) names: each waits for its target
    module. Returns the names enabled; unknown names and failures go to ``warn`` (stderr)."""
    global _from_env
    if value is None:
        if _from_env is None:
            _from_env = start(os.environ.get(ENV, ""), warn=warn)
        return list(_from_env)
    report = warn or _stderr
    names = parse(value)
    if names is None:
        return []
    table = registered()
    enabled = []
    for name in names or sorted(table):
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            why = f"no smolplug adapter named {name!r} (registered: {known})"
            report(f"smolplug: adapter {name!r} not enabled: {why}")
            continue
        module, target = table[name]
        if target is None:  # no declared target: load it now (this imports smolplug)
            if _enable_now(name, module, report):
                enabled.append(name)
        elif _enable_later(name, module, target, report):
            enabled.append(name)
    return enabled


def waiting(name: str) -> str | None:
    """The target module adapter ``name`` waits for, when start-up enabled it and it has not
    been loaded yet."""
    entry = _waiting.get(name)
    return entry[0] if entry else None


def cancel(name: str) -> bool:
    """Stop waiting for adapter ``name``'s target (``Adapter.disable()`` calls this)."""
    entry = _waiting.pop(name, None)
    if entry is not None:
        hook.unwatch(*entry)
    return entry is not None


def _enable_later(name: str, module: str, target: str, report: Callable[[str], None]) -> bool:
    if name in _waiting:
        return True
    if target in sys.modules:  # imported before start-up got here (by an earlier .pth): patch now
        return _enable_now(name, module, report)

    def on_import(_host: ModuleType) -> None:
        if cancel(name):
            _enable_now(name, module, report)

    _waiting[name] = (target, on_import)
    hook.watch(target, on_import)
    return True


def _enable_now(name: str, module: str, report: Callable[[str], None]) -> bool:
    try:
        from smolplug.adapters import load

        load(name, module).enable()
    except Exception as e:  # the host must never break because of smolplug
        report(f"smolplug: adapter {name!r} not enabled: {e}")
        return False
    return True


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
