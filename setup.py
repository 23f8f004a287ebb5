"""Compile the message catalogue into the package when it is built (wheel or install).

Everything else is declared in pyproject.toml; this hook exists because the compiled catalogue
(``bodycam/locale/zh_CN/LC_MESSAGES/bodycam.mo``) is made at install time from the committed
``locale/zh_CN/*.po``, never committed itself.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogue(build_py):
    def run(self):
        super().run()
        sys.path.insert(0, str(ROOT))
        try:
            from bodycam.i18n_catalog import compile_catalog
        finally:
            sys.path.pop(0)
        out = Path(self.build_lib) / "bodycam" / "locale" / "zh_CN" / "LC_MESSAGES" / "bodycam.mo"
        compile_catalog(ROOT, out)


setup(cmdclass={"build_py": BuildWithCatalogue})
