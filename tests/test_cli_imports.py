"""`callwatch render` stays light: the CLI imports only the module of the command that runs;
`callwatch run` needs no extra, and a command missing its extra says which to install."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from callwatch.stack import free_port

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


# the packages of the extras (pyproject.toml [project.optional-dependencies]): `render`, `demo`
EXTRA_PACKAGES = ("grafana_foundation_sdk", "rich", "aiosmtpd")

# `python -c WITHOUT PACKAGES ARGS...`: the CLI with ARGS, as if the comma-separated PACKAGES
# were not installed (importing one fails as importing a missing package does).
WITHOUT = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Uninstalled())
from callwatch.cli import main
sys.exit(main(sys.argv[2:]))
"""


def without_extras(*args: str, options: tuple[str, ...] = ()) -> list[str]:
    """The command line running ``callwatch ARGS`` with no extra installed; ``options`` go to
    the interpreter."""
    return [sys.executable, *options, "-c", WITHOUT, ",".join(EXTRA_PACKAGES), *args]


def test_run_serves_the_exporter_and_receiver_without_any_extra(tmp_path):
    """A plain ``pip install callwatch`` (the image) runs ``callwatch run``: with no extra's
    package importable it starts, opens the store and the notifiers, and answers. (With them
    installed rich is still loaded: httpx, under the Telnyx SDK, imports it for its own command
    line when present and does without it.)"""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "TELNYX_", "CALLWATCH_", "STATUSPAGE_"))}
    env.update(PYTHONPATH=str(REPO), CALLWATCH_POLICY=str(REPO / "deploy/policy.yaml"),
               CALLWATCH_STATUSPAGE="off", CALLWATCH_STORE_URL=f"sqlite://{tmp_path}/r.db")
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            without_extras("run", "--listen", f"127.0.0.1:{port}", options=("-X", "importtime")),
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            answered = _answers(f"http://127.0.0.1:{port}/readyz", process)
        finally:
            process.terminate()
            process.wait(timeout=10)
    text = log.read_text()
    assert answered and "Traceback" not in text, text[-2000:]
    names = {line.rsplit("|", 1)[-1].strip() for line in text.splitlines()
             if line.startswith("import time:") and "|" in line}
    # the receiver's store and notifiers were opened, and the exporter loaded (importtime lists
    # what import statements load, not the modules importlib.import_module itself loads)
    assert {"receiver.store.sqlite", "receiver.notify.slack", "exporter.webhooks"} <= names


def _answers(url: str, process: subprocess.Popen, seconds: float = 30.0) -> bool:
    """Whether ``url`` answers any HTTP status (/readyz may be 503) before ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


@pytest.mark.parametrize("argv, missing, extra", [
    (["render", "--check"], "grafana_foundation_sdk", "render"),
    (["render", "--kubernetes", "--check"], "grafana_foundation_sdk", "render"),
    (["demo"], "rich", "demo"),
    (["simulate"], "aiosmtpd", "demo"),
])
def test_a_command_without_its_extra_names_the_extra_to_install_in_one_line(argv, missing,
                                                                            extra):
    done = subprocess.run(without_extras(*argv), cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr == (f"callwatch {argv[0]}: {missing} is not installed; it comes with the "
                           f"'{extra}' extra: pip install 'callwatch[{extra}]'\n")
