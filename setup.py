"""Build hook: cffi compiles native/ into smolplug._native (metadata lives in pyproject.toml)."""

from setuptools import setup

setup(cffi_modules=["native/build_native.py:ffibuilder"])
