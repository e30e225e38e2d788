"""Imported at interpreter start-up by ``smolplug-autoload.pth`` when ``SMOLPLUG`` is set:
enables the host adapters it names (all registered ones for ``SMOLPLUG=1``)."""

import os

from .adapters import enable_from_env

enabled = enable_from_env(os.environ.get("SMOLPLUG", ""))
