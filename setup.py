"""Build hooks (metadata lives in pyproject.toml):

* cffi compiles native/ into smolplug._native;
* ``smolplug-autoload.pth`` is placed at the root of site-packages, so ``SMOLPLUG=1`` in the
  environment enables the host adapters at interpreter start-up: its line imports only the
  top-level module ``smolplug_autoload`` (standard library only, a py-module of this
  distribution), which loads an adapter when its host module is imported (docs/adapters.md).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "smolplug-autoload.pth"


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        self.copy_file(str(Path(__file__).parent / "smolplug" / PTH), str(Path(self.build_lib) / PTH))

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]


setup(cffi_modules=["native/build_native.py:ffibuilder"], cmdclass={"build_py": build_py_with_pth})
