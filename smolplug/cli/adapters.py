"""``smolplug adapters``: the host adapters, their state and the SMOLPLUG=1 start-up hook."""

from __future__ import annotations

import argparse

from rich.console import Console


def cmd_adapters(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from .. import adapters

    if args.install_autoload:
        console.print(f"installed {adapters.install_autoload()}")
    table = Table(title="host adapters (entry-point group smolplug.adapters)")
    for col in ("name", "host module", "state", "what it does"):
        table.add_column(col)
    for name, target in sorted(adapters.available().items()):
        try:
            a = adapters.get(name)
            state = "active" if a.active else "enabled (waiting for import)" if a.enabled else "off"
            table.add_row(name, a.target, state, a.description)
        except Exception as e:  # a broken third-party adapter is listed, not fatal
            table.add_row(name, target, f"[red]broken: {e}[/red]", "")
    console.print(table)
    pth = adapters.autoload_path()
    console.print(
        f"SMOLPLUG=1 start-up hook: {pth} {'present' if pth.exists() else '[red]missing[/red]'}"
        + ("" if pth.exists() else " (run: smolplug adapters --install-autoload)")
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    ad = sub.add_parser("adapters", help="list host adapters (SMOLPLUG=1 enables them)")
    ad.add_argument(
        "--install-autoload", action="store_true", help="put the SMOLPLUG=1 start-up hook into site-packages"
    )
    ad.set_defaults(func=cmd_adapters)
