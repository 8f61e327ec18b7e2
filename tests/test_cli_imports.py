"""`callwatch render` stays light: the CLI imports only the module of the command that runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imported_modules(*args: str) -> tuple[int, set[str]]:
    """Run ``python -X importtime -m callwatch ARGS``; its exit code and every module it
    imported (importtime lines: ``import time: self [us] | cumulative | name``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "callwatch", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return done.returncode, names


def test_render_check_imports_neither_aiohttp_nor_the_twilio_sdk():
    code, names = imported_modules("render", "--check")
    assert code == 0
    assert "policy.render" in names                      # the measurement sees real imports
    heavy = {name for name in names
             if name.split(".")[0] in ("aiohttp", "twilio", "telnyx", "slack_sdk", "rich")}
    assert heavy == set()
