"""The content hash a batch manifest must hold for a file, from the xxHash project's own
command-line tool (``xxhsum -H2``: XXH128), not from the Python binding the job uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def xxhsum(path: Path) -> str:
    """``xxh128:<hex>`` of the file, as `xxhsum -H2` computes it."""
    tool = shutil.which("xxhsum")
    if tool is None:
        pytest.fail("xxhsum is missing: the Debian package xxhash (.ci/setup) installs it")
    done = subprocess.run([tool, "-H2", str(path)], capture_output=True, text=True, check=True)
    return "xxh128:" + done.stdout.split()[0]
