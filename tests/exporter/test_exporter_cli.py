"""``callwatch exporter`` and ``callwatch run`` start and serve; ``callwatch probe webhooks``
checks them (runbook 3). Real processes on 127.0.0.1."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callwatch.signatures import telnyx_public_key_b64

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def secrets_env():
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "TELNYX_", "CALLWATCH_", "STATUSPAGE_"))}
    env.update(TWILIO_AUTH_TOKEN="cli-test-token", TELNYX_PUBLIC_KEY=telnyx_public_key_b64(key),
               CALLWATCH_PROBE_TELNYX_PRIVATE_KEY=base64.b64encode(raw).decode(),
               CALLWATCH_STATUSPAGE="off", CALLWATCH_STORE_URL="sqlite:///:memory:")
    return env


@pytest.mark.parametrize("command", ["exporter", "run"])
def test_the_command_serves_the_exporter_and_the_probe_command_checks_it(command, secrets_env,
                                                                          tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "callwatch", command, "--listen",
                             f"127.0.0.1:{port}"], cwd=tmp_path if command == "run" else REPO,
                            env={**secrets_env,
                                 "CALLWATCH_POLICY": str(REPO / "deploy/policy.yaml"),
                                 "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", proc)
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert "telephony_calls_ended_total" in metrics
        assert get_json(base + "/telephony/calls/active")["total"] == 0
        probe = subprocess.run([sys.executable, "-m", "callwatch", "probe", "webhooks",
                                "--base-url", base], cwd=REPO, env=secrets_env,
                               capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        assert "twilio-webhook" in probe.stdout and "telnyx-webhook" in probe.stdout
        assert probe.stdout.count(" yes ") == 2
        forged = subprocess.run([sys.executable, "-m", "callwatch", "probe", "webhooks",
                                 "--base-url", base], cwd=REPO,
                                env={**secrets_env, "TWILIO_AUTH_TOKEN": "wrong"},
                                capture_output=True, text=True, timeout=30)
        assert forged.returncode == 1 and "403" in forged.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=10)
