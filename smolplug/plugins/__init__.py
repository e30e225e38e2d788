"""The hook system: the seam between hosts, smolplug's stages and third parties.

Enters: plugin objects (smolplug's defaults, ``smolplug`` entry points, explicit ones).
Leaves: a pluggy manager whose hooks (:mod:`smolplug.plugins.hookspecs`: open frames, make an
executor, estimate cost, select a plan) the adapters and :mod:`smolplug.api` call. This package
knows the hook names only; each stage's folder owns its default implementation.
"""

from .hookspecs import hookimpl, hookspec
from .manager import (
    AUTOLOAD_ENV,
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PROJECT,
    autoload_enabled,
    describe_plugins,
    first_result,
    get_plugin_manager,
)

__all__ = [
    "AUTOLOAD_ENV",
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PROJECT",
    "autoload_enabled",
    "describe_plugins",
    "first_result",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
]
