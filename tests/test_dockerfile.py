"""The Dockerfile's safe defaults, read from the file; then its default command, run here as
the image would run it (its paths mapped to a temporary directory: no Docker daemon needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request

import pytest

from callwatch.stack import free_port
from tests.exporter.test_exporter_cli import wait_ready
from tests.test_compose import REPO

DATA = "/var/lib/callwatch"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(words[0].upper(), words[1].strip() if len(words) > 1 else "")
            for words in (line.strip().split(None, 1) for line in joined.splitlines())
            if words]


def one(name: str) -> str:
    [found] = [args for instruction, args in instructions() if instruction == name]
    return found


def pairs(arguments: str) -> dict[str, str]:
    """``KEY=VALUE`` or ``KEY="VALUE"`` pairs of an ENV, ARG or LABEL line."""
    return {key: value.strip('"') for key, value in
            re.findall(r'([\w.]+)=("[^"]*"|\S*)', arguments)}




PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_it_runs_as_a_numeric_non_root_user():
    user = one("USER")
    assert re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user), user
    assert user.split(":")[0] == "10001"   # the Kubernetes Deployment's runAsUser


def test_the_image_installs_callwatch_without_an_extra():
    """What the image runs needs no extra (tests/test_cli_imports.py); render and demo stay out."""
    installs = [args for name, args in instructions() if name == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert re.search(r"pip install --no-cache-dir \.(\s|$)", installs[0]), installs[0]


def test_the_data_directory_is_a_volume_the_user_owns_and_the_store_is_in_it():
    steps = instructions()
    volume = next(i for i, (name, _) in enumerate(steps) if name == "VOLUME")
    assert json.loads(steps[volume][1]) == [DATA]
    owned = [i for i, (name, args) in enumerate(steps)
             if name == "RUN" and f"chown 10001:10001 {DATA}" in args]
    assert owned and owned[0] < volume   # changes after VOLUME would be thrown away
    assert pairs(one("ENV"))["CALLWATCH_STORE_URL"] == f"sqlite:///{DATA}/callwatch.db"


def test_the_oci_labels_name_the_image_and_agree_with_pyproject():
    labels = pairs(one("LABEL"))
    prefix = "org.opencontainers.image."
    assert {prefix + k for k in ("title", "description", "version", "licenses", "source",
                                 "revision")} <= set(labels)
    assert labels[prefix + "title"] == PYPROJECT["name"]
    assert labels[prefix + "licenses"] == PYPROJECT["license"]["text"]
    assert labels[prefix + "description"] == PYPROJECT["description"]
    assert labels[prefix + "version"] == "${VERSION}"
    versions = [pairs(args)["VERSION"] for name, args in instructions()
                if name == "ARG" and args.startswith("VERSION=")]
    assert versions == [PYPROJECT["version"]]


def test_the_default_command_starts_with_the_bundled_policy():
    command = json.loads(one("CMD"))
    policy = command[command.index("--policy") + 1]
    copies = [args.split() for name, args in instructions() if name == "COPY"]
    assert ["deploy/policy.yaml", policy] in copies
    assert pairs(one("ENV"))["CALLWATCH_POLICY"] == policy


@pytest.fixture
def image_command(tmp_path):
    """The CMD and ENV, with the image's paths mapped here and a free local port."""
    port = free_port()
    command = [part.replace("0.0.0.0:9120", f"127.0.0.1:{port}")
               .replace("/etc/callwatch/policy.yaml", str(REPO / "deploy/policy.yaml"))
               for part in json.loads(one("CMD"))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLWATCH_", "TWILIO_",
                                                                      "TELNYX_"))}
    env.update({k: v.replace(DATA, str(tmp_path)).replace(
        "/etc/callwatch/policy.yaml", str(REPO / "deploy/policy.yaml"))
        for k, v in pairs(one("ENV")).items()})
    env.update(CALLWATCH_STATUSPAGE="off", PYTHONPATH=str(REPO))
    assert command[0] == "callwatch"
    return [sys.executable, "-m", "callwatch", *command[1:]], env, port


def test_the_default_command_serves_with_every_endpoint_closed_but_health(image_command,
                                                                          tmp_path):
    argv, env, port = image_command
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", process)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/incidents", timeout=5)
        assert refused.value.code == 401
        assert "set CALLWATCH_RECEIVER_TOKEN" in json.loads(refused.value.read())["detail"]
        assert (tmp_path / "callwatch.db").exists()   # the store lives in the data volume
    finally:
        process.terminate()
        process.wait(timeout=10)
