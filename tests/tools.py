"""Finding the Debian programs that tests drive for real (Chromium, Mosquitto, PostgreSQL, ...).

Locally a missing program skips the test with the command that installs it; in CI
(`CI` set, as `.ci/run` runs) it fails, because `.ci/run` installs them all.
"""

from __future__ import annotations

import glob
import os
import shutil

import pytest


def require_tool(*names: str, package: str, globs: tuple[str, ...] = ()) -> str:
    """The path of the first of `names` on PATH (or matching `globs`), else skip or fail."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if found:
            return found
    for pattern in globs:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    reason = f"{names[0]} not found: install it with `apt-get install {package}`"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs it; CI must not skip)")
    pytest.skip(reason)
