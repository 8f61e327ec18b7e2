"""On-call gap warnings where the policy's warnings are shown: ``callwatch render`` (stderr)
and the start-up log of ``callwatch receiver`` / ``run``. The wording itself is tested in
tests/receiver/test_handoff.py."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from callwatch.commands.serve import build_app

REPO = Path(__file__).resolve().parent.parent
DEPLOY = (REPO / "deploy" / "policy.yaml").read_text(encoding="utf-8")
WEEKLY = "participants: [eng_a, eng_b, eng_c]"
# weekdays only, office hours: every night and weekend is a gap
OFFICE = (WEEKLY + "\n        restrictions:\n"
          "          - {days: [mon, tue, wed, thu, fri], from: '09:00', to: '17:00'}")


def policy_file(tmp_path: Path, text: str) -> Path:
    assert WEEKLY in DEPLOY, "the deploy policy's schedule changed: update this test"
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def render_check(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callwatch", "render", "--check", "--policy",
                           str(path), "--out", str(tmp_path / "tree")],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_render_check_shows_a_schedule_gap_as_a_warning_and_does_not_fail_for_it(
        tmp_path: Path) -> None:
    path = policy_file(tmp_path, DEPLOY.replace(WEEKLY, OFFICE))
    result = render_check(path, tmp_path)
    gaps = [line for line in result.stderr.splitlines() if "schedules.primary" in line]
    assert len(gaps) == 1, result.stderr
    assert gaps[0].startswith(f"callwatch render: warning: {path}: schedules.primary: nobody "
                              "is on call from ")
    assert "(Europe/Berlin)" in gaps[0] and "uncovered in the next 14 days" in gaps[0]
    assert "Traceback" not in result.stderr
    rendered = subprocess.run([sys.executable, "-m", "callwatch", "render", "--policy",
                               str(path), "--out", str(tmp_path / "tree")],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
    assert rendered.returncode == 0, rendered.stderr     # a warning, never an error
    assert render_check(path, tmp_path).returncode == 0


def test_render_check_shows_no_gap_for_a_schedule_that_covers_every_hour(tmp_path: Path) -> None:
    result = render_check(policy_file(tmp_path, DEPLOY), tmp_path)
    assert "schedules." not in result.stderr


def test_the_receivers_start_up_log_shows_the_gap(tmp_path: Path, caplog) -> None:
    path = policy_file(tmp_path, DEPLOY.replace(WEEKLY, OFFICE))
    args = argparse.Namespace(_command="receiver", policy=str(path))
    with caplog.at_level(logging.WARNING, logger="callwatch"):
        build_app(args, {"CALLWATCH_RECEIVER_AUTH": "none"})
    gaps = [r.getMessage() for r in caplog.records if "schedules.primary" in r.getMessage()]
    assert len(gaps) == 1
    assert gaps[0].startswith(f"policy: {path}: schedules.primary: nobody is on call from ")
