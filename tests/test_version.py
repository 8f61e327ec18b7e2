"""``callwatch --version`` names the installed distribution's version."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_callwatch_version_prints_the_installed_version() -> None:
    done = subprocess.run([sys.executable, "-m", "callwatch", "--version"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"callwatch {metadata.version('callwatch')}\n"
