"""Files shipped inside the package (example configs)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def config_dir() -> Path:
    return Path(str(resources.files("clincode") / "configs"))


def config_path(name: str) -> Path:
    path = config_dir() / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in config_dir().glob("*.yaml")))
        raise FileNotFoundError(f"no packaged config {name!r}; known: {known}")
    return path
