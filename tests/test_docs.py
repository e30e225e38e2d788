"""Every hook is documented in docs/hooks.md under its exact signature (as datasette's test_docs)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from smolplug.plugins import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
HOOKS = [(name, fn) for name, fn in vars(hookspecs).items() if name.startswith("smolplug_") and callable(fn)]


def _signature(fn) -> str:
    params = ", ".join(inspect.signature(fn).parameters)
    return f"{fn.__name__}({params})"


def test_there_are_hooks():
    assert {n for n, _ in HOOKS} >= {"smolplug_open_frames", "smolplug_make_executor"}


@pytest.mark.parametrize("name, fn", HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_documented_under_exact_signature(name, fn):
    headings = re.findall(r"^#+\s+`([^`]+)`", DOCS.read_text(), flags=re.M)
    assert _signature(fn) in headings, f"docs/hooks.md needs a heading `{_signature(fn)}`"


@pytest.mark.parametrize("name, fn", HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_docstring_shape(name, fn):
    doc = inspect.getdoc(fn) or ""
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{name} docstring lacks :param {param}:"
    assert "return" in doc.lower() and "Stops at first non-None result." in doc


def test_documented_hooks_exist():
    headings = re.findall(r"^#+\s+`(smolplug_\w+)\(", DOCS.read_text(), flags=re.M)
    assert set(headings) == {n for n, _ in HOOKS}, "docs/hooks.md documents a hook that does not exist"
