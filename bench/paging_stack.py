"""The processes behind bench/bench_paging.py, each its own process on 127.0.0.1.

- the simulator (``python -m simulator``, no call traffic): PagerDuty over TLS, Slack, Twilio,
  Telnyx; it prints its environment as JSON on its first line and stamps every PagerDuty event
  with ``received_at`` from ``time.time`` (the wall clock this script reads too);
- the callwatch receiver (``python -m callwatch receiver``) on SQLite, with the simulator's
  environment, so its notifiers page the simulated PagerDuty, Slack and phones;
- one real Alertmanager, two routes: ``path="a"`` to its native ``pagerduty_configs`` (straight
  to the simulated PagerDuty), ``path="b"`` to ``webhook_configs`` (to the receiver).

``open_stack`` starts them and yields a ``Stack``; every process is stopped (terminate, then
kill) and the working directory removed on the way out, also on failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from callwatch.stack import ManagedProcess, find_binary, free_port, start_alertmanager, wait_for

REPO = Path(__file__).resolve().parent.parent
TOKEN = "paging-bench-token-0123456789abcdef"
# Alertmanager 0.25 takes group_wait: 0s (checked: it starts, and flushes a new group at once).
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = "0s", "5s", "24h"


@dataclass
class Stack:
    workdir: Path
    simulator: ManagedProcess
    receiver: ManagedProcess
    alertmanager: ManagedProcess
    sim_env: dict[str, str]
    store_path: Path
    version: str  # Alertmanager's

    @property
    def control_url(self) -> str:
        return self.sim_env["SIMULATOR_CONTROL_URL"]


def spawn(name: str, argv: list[str], workdir: Path, url: str,
          env: dict[str, str] | None = None) -> ManagedProcess:
    """A child in its own session (Ctrl-C reaches only this script, which stops it)."""
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    return ManagedProcess(name, process, log_path, url)


def ready_line(log_path: Path) -> dict | None:
    """The simulator's ``{"event": "ready", ...}`` line, once printed."""
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if data.get("event") == "ready":
                return data
    return None


async def start_simulator(workdir: Path) -> tuple[ManagedProcess, dict[str, str]]:
    process = spawn("simulator", [sys.executable, "-m", "simulator", "--report-every", "86400"],
                    workdir, "")

    async def ready() -> bool:
        return ready_line(process.log_path) is not None

    try:
        await wait_for(ready, 30, "the simulator", 0.1, process)
    except BaseException:
        process.stop()
        raise
    line = ready_line(process.log_path) or {}
    process.url = line["urls"]["simulator"]
    return process, line["env"]


async def start_receiver(workdir: Path, sim_env: dict[str, str], session: aiohttp.ClientSession,
                         store: Path, policy: Path, log_level: str) -> ManagedProcess:
    port = free_port()
    env = {**os.environ, **sim_env, "CALLWATCH_STORE_URL": f"sqlite://{store}",
           "CALLWATCH_RECEIVER_TOKEN": TOKEN}
    env.pop("CALLWATCH_PUBLIC_URL", None)  # one-way calls: the comparison is about PagerDuty
    argv = [sys.executable, "-m", "callwatch", "receiver", "--listen", f"127.0.0.1:{port}",
            "--policy", str(policy), "--log-level", log_level]
    process = spawn("receiver", argv, workdir, f"http://127.0.0.1:{port}", env)
    try:
        await wait_for(lambda: _ok(session, f"{process.url}/readyz"), 30, "the receiver", 0.1,
                       process)
    except BaseException:
        process.stop()
        raise
    return process


def alertmanager_config(sim_env: dict[str, str], receiver_url: str) -> dict:
    """Two routes by the ``path`` label; every alertname a new group, flushed at once."""
    pagerduty = {"routing_key": sim_env["PAGERDUTY_ROUTING_KEY"],
                 "url": f"{sim_env['PAGERDUTY_BASE_URL']}/v2/enqueue", "send_resolved": False,
                 "http_config": {"tls_config": {"ca_file": sim_env["PAGERDUTY_CA_FILE"]}}}
    webhook = {"url": f"{receiver_url}/alerts", "send_resolved": False, "max_alerts": 0,
               "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}
    return {
        "global": {"resolve_timeout": "1h"},
        "route": {"receiver": "nowhere", "group_by": ["alertname"], "group_wait": GROUP_WAIT,
                  "group_interval": GROUP_INTERVAL, "repeat_interval": REPEAT_INTERVAL,
                  "routes": [{"receiver": "path-a", "matchers": ['path="a"']},
                             {"receiver": "path-b", "matchers": ['path="b"']}]},
        "receivers": [{"name": "nowhere"},
                      {"name": "path-a", "pagerduty_configs": [pagerduty]},
                      {"name": "path-b", "webhook_configs": [webhook]}],
    }


async def start_am(workdir: Path, sim_env: dict[str, str], receiver_url: str,
                   session: aiohttp.ClientSession) -> ManagedProcess:
    config = workdir / "alertmanager.yml"
    config.write_text(json.dumps(alertmanager_config(sim_env, receiver_url), indent=1))
    process = start_alertmanager(find_binary("alertmanager"), config, workdir, free_port())
    try:
        await wait_for(lambda: _ok(session, f"{process.url}/-/ready"), 30, "Alertmanager", 0.1,
                       process)
    except BaseException:
        process.stop()
        raise
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all cores have spent busy so far (Linux /proc/stat: all but idle, iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def am_version() -> str:
    out = subprocess.run([find_binary("alertmanager"), "--version"], capture_output=True,
                         text=True, check=False)
    words = (out.stdout + out.stderr).split()
    return words[words.index("version") + 1] if "version" in words else "?"


async def _ok(session: aiohttp.ClientSession, url: str) -> bool:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
        return response.status == 200


@contextlib.asynccontextmanager
async def open_stack(session: aiohttp.ClientSession, policy: Path,
                     log_level: str = "info") -> AsyncIterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="callwatch-bench-paging-"))
    started: list[ManagedProcess] = []
    try:
        simulator, sim_env = await start_simulator(workdir)
        started.append(simulator)
        store = workdir / "r.db"
        receiver = await start_receiver(workdir, sim_env, session, store, policy, log_level)
        started.append(receiver)
        alertmanager = await start_am(workdir, sim_env, receiver.url, session)
        started.append(alertmanager)
        yield Stack(workdir, simulator, receiver, alertmanager, sim_env, store, am_version())
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
