"""Serve MathJax from the built book, so every formula renders without a network.

`_config.yml` points Sphinx's ``mathjax_path`` at ``mathjax/tex-mml-chtml.js`` (relative
to ``_static``); this extension copies MathJax's browser build (``es5/``, with its fonts
and the components it loads on demand) from the installed ``django-static-mathjax``
package (the MathJax 3.2.2 npm release) into ``_build/html/_static/mathjax`` after each
HTML build. Nothing of MathJax is committed to the repository.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGE = "mathjax"  # the import name of the django-static-mathjax distribution
TARGET = "mathjax"  # folder under _static; mathjax_path in _config.yml starts with it


def mathjax_source() -> Path:
    """The installed MathJax browser build: ``<package>/static/mathjax/es5``."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            "MathJax not installed: install the book's requirements "
            "(pip install -r .venv-book/requirements.txt, or make book)"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    es5 = root / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise ExtensionError(f"MathJax package at {root} has no es5/tex-mml-chtml.js")
    return es5


def check_path(app: Sphinx) -> None:
    """Fail early when mathjax_path would load MathJax from anywhere but the copy."""
    path = app.config.mathjax_path
    if "://" in path or not path.startswith(f"{TARGET}/"):
        raise ExtensionError(f"mathjax_path must start with {TARGET}/ (got {path!r})")
    mathjax_source()


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    es5 = mathjax_source()
    target = Path(app.outdir) / "_static" / TARGET
    shutil.copytree(es5, target, dirs_exist_ok=True)
    shutil.copy2(es5.parent / "LICENSE", target / "LICENSE")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", check_path)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
