"""Every command in docs/runbooks/ that targets callwatch, run against the running stack.

Each ``curl`` sends the API token (every endpoint but the health checks asks for it) and must
answer 2xx with a JSON object that is not an error; a ``curl … | grep`` pipeline must succeed
and print something; ``callwatch probe webhooks`` must find every
configured target working.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from callwatch.demo.stack import DemoStack
from tests.e2e.harness import StackClient, eventually

pytestmark = pytest.mark.e2e
RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
_FENCE = re.compile(r"```sh\n(.*?)```", re.S)


def runbook_commands() -> list[tuple[str, str]]:
    """(runbook, command) for every shell command in a ``sh`` block naming callwatch."""
    found = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        for block in _FENCE.findall(path.read_text(encoding="utf-8")):
            for command in block.replace("\\\n", " ").splitlines():
                command = command.split("#", 1)[0].strip()
                if "$CALLWATCH" in command or command.startswith("callwatch "):
                    found.append((path.name, command))
    return found


def test_the_runbooks_hold_the_commands_the_seed_calls_for() -> None:
    commands = " ".join(command for _, command in runbook_commands())
    for endpoint in ("/telephony/calls/active", "/alerting/metrics/summary?",
                     "/telephony/providers/twilio/health", "/telephony/calls/active/quality",
                     "/alerting/health", "callwatch probe webhooks"):
        assert endpoint in commands, endpoint


def test_every_runbook_curl_to_callwatch_sends_the_token() -> None:
    curls = [(runbook, command) for runbook, command in runbook_commands()
             if command.startswith("curl ")]
    assert curls
    for runbook, command in curls:
        assert '-H "Authorization: Bearer $CALLWATCH_TOKEN"' in command, (runbook, command)


async def test_every_runbook_command_answers_with_meaningful_json(tmp_path) -> None:
    async with DemoStack(tmp_path, time_scale=60, call_rate=30) as stack, \
            aiohttp.ClientSession() as session:
        api = StackClient(stack, session)
        status, incident = await api.post("/incidents", {
            "summary": "Runbook drill", "priority": "P2", "description": "e2e runbook test"})
        assert status == 201
        await eventually(lambda: _has_traffic(api), 60, "calls counted by the exporter")
        env = {**os.environ, **stack.simulator.env(), "CALLWATCH": stack.urls.callwatch,
               "CALLWATCH_TOKEN": stack.token, "CALLWATCH_POLICY": stack.policy_path}
        for runbook, command in runbook_commands():
            command = command.replace("INCIDENT_ID", incident["id"])
            # in a thread: the simulator answering the probes runs on this event loop
            check = (_check_cli if command.startswith("callwatch ")
                     else _check_pipeline if "|" in command else _check_curl)
            await asyncio.to_thread(check, runbook, command, env)


async def _has_traffic(api: StackClient) -> bool:
    body = await api.get("/telephony/providers/twilio/health")
    return sum(body["inputs"]["calls"]["ended"].values()) > 0


def _check_curl(runbook: str, command: str, env: dict) -> None:
    result = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"], env=env,
                            capture_output=True, text=True, timeout=30)
    body, _, status = result.stdout.rpartition("\n")
    where = f"{runbook}: {command}"
    assert result.returncode == 0 and status.startswith("2"), f"{where} -> {status} {body}"
    document = json.loads(body)
    assert isinstance(document, dict) and document and "error" not in document, where
    if "/alerting/metrics/summary" in command:
        assert set(document["providers"]) == {"twilio", "telnyx"}, where
    if "/providers/" in command:
        assert document["health_ratio"] is not None, where


def _check_pipeline(runbook: str, command: str, env: dict) -> None:
    """A ``curl … | grep …`` line must succeed end to end and print what it looks for."""
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env,
                            capture_output=True, text=True, timeout=30)
    where = f"{runbook}: {command}\n{result.stderr}"
    assert result.returncode == 0 and result.stdout.strip(), where


def _check_cli(runbook: str, command: str, env: dict) -> None:
    argv = [sys.executable, "-m", "callwatch", *command.split()[1:]]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{runbook}: {command}\n{result.stdout}{result.stderr}"
