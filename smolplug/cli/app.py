"""Command line: ``smolplug demo``, ``bench jpeg``, ``renditions``, ``calibrate``, ``plan``,
``profile``, ``adapters``, ``plugins``, ``info``, ``explain``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from . import adapters, bench, calibrate, demo, explain, plan, plugins, profile, renditions

#: one module per command, in the order ``smolplug --help`` lists them; each registers its
#: subparser(s) with ``add_parser(sub)``
COMMANDS = (bench, renditions, plugins, demo, calibrate, profile, plan, adapters, explain)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smolplug", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def make_console() -> Console:
    """Rich console; piped output gets a wide page instead of rich's 80-column default."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args, make_console()))


if __name__ == "__main__":
    sys.exit(main())
