"""The ``smolplug`` command line.

Enters: command-line arguments.
Leaves: tables on the console and exit statuses; each command calls the stage packages
(``bench``, ``renditions``, ``plugins``/``info``, ``adapters``, ``demo``, ``calibrate``,
``profile``, ``plan``). ``demo`` runs the reference engines of a source checkout.
"""

from .app import build_parser, main, make_console

__all__ = ["build_parser", "main", "make_console"]
