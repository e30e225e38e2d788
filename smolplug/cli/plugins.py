"""``smolplug plugins`` (registered plugins and their hooks) and ``smolplug info`` (backend,
version, threads)."""

from __future__ import annotations

import argparse

from rich.console import Console


def cmd_plugins(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..plugins.manager import AUTOLOAD_ENV, autoload_enabled, describe_plugins, get_plugin_manager

    pm = get_plugin_manager()
    t = Table(
        title=f"smolplug plugins (entry-point autoload: {'on' if autoload_enabled() else 'off'}, "
        f"{AUTOLOAD_ENV})"
    )
    for col in ("name", "origin", "hooks", "where"):
        t.add_column(col, overflow="fold")
    for row in describe_plugins(pm):
        t.add_row(row["name"], row["origin"], ", ".join(row["hooks"]), str(row["where"]))
    console.print(t)
    return 0


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    from .. import __version__
    from ..jpeg.decode import backend, default_threads, native_error

    console.print(f"smolplug {__version__}")
    console.print(f"JPEG backend: {backend()}" + (f" ({native_error()})" if native_error() else ""))
    console.print(f"default threads: {default_threads()}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("plugins", help="list registered plugins and their hooks").set_defaults(func=cmd_plugins)
    sub.add_parser("info", help="backend, versions, threads").set_defaults(func=cmd_info)
