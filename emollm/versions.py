"""Versions of Python, the platform and the packages a result depends on (run_info.json,
training.json), read from the installed distributions."""

from __future__ import annotations

import platform
import sys
from importlib import metadata


def package_versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """{"python": ..., "platform": ..., package: version or None when not installed}."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
