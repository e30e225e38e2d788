"""Plugin manager factory.

One manager per engine/session (never a module global): smolplug's defaults,
then third-party plugins from the ``smolplug`` entry-point group (unless
``SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD`` is set), then explicitly passed plugins.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from typing import Any

import pluggy

from ..errors import PluginError
from . import hookspecs

PROJECT = "smolplug"
ENTRY_POINT_GROUP = "smolplug"
AUTOLOAD_ENV = "SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD"
DEFAULT_PLUGINS = ("smolplug.frames.plugin", "smolplug.execute.plugin", "smolplug.plan.plugin")


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def get_plugin_manager(plugins: Iterable[Any] = (), *, autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with smolplug's hooks, defaults and plugins registered.

    :param plugins: extra plugin objects (modules or instances) to register.
    :param autoload: load entry-point plugins; default: unless
        ``SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD`` is set to a true value.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if autoload_enabled() if autoload is None else autoload:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Name, origin and implemented hooks of every registered plugin (for ``smolplug plugins``)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        origin = (
            f"{dist.project_name} {dist.version}"
            if dist is not None
            else "builtin"
            if name in DEFAULT_PLUGINS
            else "registered"
        )
        hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
        rows.append(
            {
                "name": name,
                "origin": origin,
                "hooks": hooks,
                "where": getattr(plugin, "__file__", type(plugin).__qualname__),
            }
        )
    return rows


def first_result(hook_name: str, pm: pluggy.PluginManager | None = None, **kwargs: Any) -> Any:
    """Call a firstresult hook; raise PluginError when no implementation took the call."""
    pm = pm or get_plugin_manager()
    result = getattr(pm.hook, hook_name)(**kwargs)
    if result is None:
        shown = ", ".join(f"{k}={v!r}"[:80] for k, v in kwargs.items())
        raise PluginError(f"no smolplug plugin handled {hook_name}({shown})")
    return result
