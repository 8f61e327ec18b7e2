"""``callwatch exporter`` and ``callwatch run`` start and serve; ``callwatch probe webhooks``
checks them (runbook 3). Real processes on 127.0.0.1."""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exporter_testkit import API_TOKEN
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from callwatch.signatures import telnyx_public_key_b64
from callwatch.stack import free_port

REPO = Path(__file__).resolve().parents[2]


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


def get_json(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=5) as response:
        return json.loads(response.read())


# What Prometheus 2.x sends when it scrapes.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def assert_prometheus_gets_openmetrics(url: str) -> None:
    """Prometheus's scrape gets every metric of the process as valid OpenMetrics."""
    request = urllib.request.Request(url, headers={"Accept": PROMETHEUS_ACCEPT})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read().decode()
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    names = {family.name for family in openmetrics_families(body)}  # raises when invalid
    assert {"callwatch_build_info", "telephony_calls_ended"} <= names
    assert "_created" not in body


@pytest.fixture
def secrets_env():
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "TELNYX_", "CALLWATCH_", "STATUSPAGE_"))}
    env.update(TWILIO_AUTH_TOKEN="cli-test-token", TELNYX_PUBLIC_KEY=telnyx_public_key_b64(key),
               CALLWATCH_PROBE_TELNYX_PRIVATE_KEY=base64.b64encode(raw).decode(),
               CALLWATCH_STATUSPAGE="off", CALLWATCH_STORE_URL="sqlite:///:memory:",
               CALLWATCH_RECEIVER_TOKEN=API_TOKEN)
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
        assert_prometheus_gets_openmetrics(base + "/metrics")
        assert get_json(base + "/telephony/calls/active", API_TOKEN)["total"] == 0
        with pytest.raises(urllib.error.HTTPError) as refused:   # no token: the one 401
            get_json(base + "/telephony/calls/active")
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["error"] == "unauthorized"
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


def test_probe_webhooks_with_no_targets_names_the_policy_key_and_exits_2(secrets_env):
    """The shipped policy configures no probe targets (its examples are comments)."""
    result = subprocess.run([sys.executable, "-m", "callwatch", "probe", "webhooks",
                             "--policy", "deploy/policy.yaml"], cwd=REPO, env=secrets_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "exporter.probe_targets" in lines[0] and "deploy/policy.yaml" in lines[0]
    assert lines[0].startswith("callwatch probe: no webhook probe targets")
    assert "--base-url" in lines[0]


@pytest.mark.parametrize("argv,expected", [
    (["webhooks"], "no webhook probe targets (kind twilio_webhook or telnyx_webhook) in "
                   "exporter.probe_targets of "),
    (["all", "--target", "nope"], "no probe target named nope in exporter.probe_targets of "),
    (["webhooks", "--target", "api"],
     "no webhook probe target named api in exporter.probe_targets of "),
])
def test_a_policy_without_a_matching_target_says_which_is_missing(argv, expected, tmp_path,
                                                                  capsys):
    from callwatch.cli import main
    text = (REPO / "deploy" / "policy.yaml").read_text()
    assert text.count("  probe_targets: []\n") == 1
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace("  probe_targets: []\n", "  probe_targets: [{name: api, "
                                   "kind: http, url: 'http://127.0.0.1:9/health'}]\n"))
    assert main(["probe", *argv, "--policy", str(policy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"callwatch probe: {expected}{policy}" + (
        "" if "--target" in argv else ": add one there, or pass --base-url URL")
