"""What a ``smolplug-autoload.pth`` written by an earlier smolplug imports at start-up: it starts
the same watcher as the current line, after importing the whole package (that line predates
``smolplug_autoload``). ``smolplug adapters --install-autoload`` replaces it."""

import smolplug_autoload

enabled = smolplug_autoload.start()
