"""The whole stack on loopback: simulator, callwatch, and the real Prometheus and Alertmanager.

``DemoStack`` is what ``callwatch demo`` shows and what the end-to-end tests drive. Every file
it writes lives under its working directory; leaving the context stops every process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from callwatch.stack import (
    ManagedProcess,
    find_binary,
    free_port,
    start_alertmanager,
    start_prometheus,
    wait_for,
)
from policy import load_policy
from policy.durations import format_duration
from policy.render import ALERTMANAGER_PATH, PROMETHEUS_PATH, RULES_PATH, RenderOptions, render_all


@dataclass(frozen=True)
class StackUrls:
    callwatch: str
    prometheus: str
    alertmanager: str
    simulator: str


class DemoStack:
    """Start with ``async with DemoStack(...) as stack``; ``stack.urls`` and ``stack.token``."""

    def __init__(self, workdir: Path, policy_path: str = "deploy/policy.yaml",
                 time_scale: float = 60.0, call_rate: float = 40.0, scenario: str = "normal",
                 environ: dict[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.policy_path = str(Path(policy_path).resolve())
        self.policy = load_policy(self.policy_path)
        self.time_scale = time_scale
        self.call_rate = call_rate
        self.scenario = scenario
        self.environ = dict(os.environ if environ is None else environ)
        self.token = secrets.token_urlsafe(24)
        self.processes: list[ManagedProcess] = []
        self.simulator = None
        self.urls: StackUrls | None = None
        self._ports = {name: free_port() for name in ("callwatch", "prometheus", "alertmanager")}

    async def __aenter__(self) -> DemoStack:
        binaries = {name: find_binary(name, self.environ)
                    for name in ("prometheus", "alertmanager")}
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            await self._start(binaries)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _start(self, binaries: dict[str, str]) -> None:
        from simulator import Simulator  # only the demo and tests import the simulator

        callwatch = f"http://127.0.0.1:{self._ports['callwatch']}"
        self.simulator = Simulator(target_base_url=callwatch, rate=self.call_rate,
                                   scenario=self.scenario)
        await self.simulator.__aenter__()
        self._write_policy()
        self._render()
        self.processes.append(self._start_callwatch(callwatch))
        am = start_alertmanager(binaries["alertmanager"],
                                self.workdir / "alertmanager/alertmanager.yml",
                                self.workdir, self._ports["alertmanager"])
        self.processes.append(am)
        # Prometheus re-sends a firing alert every resend delay (1m) and Alertmanager keeps it
        # for four: scaled too, or the watchdog's first heartbeat (sent before Prometheus has
        # found its Alertmanager) waits a minute, and a stopped Prometheus goes unnoticed for 4.
        resend = format_duration(60.0 / self.time_scale)
        prometheus = start_prometheus(binaries["prometheus"],
                                      self.workdir / "prometheus/prometheus.yml", self.workdir,
                                      self._ports["prometheus"],
                                      (f"--rules.alert.resend-delay={resend}",))
        self.processes.append(prometheus)
        self.urls = StackUrls(callwatch, prometheus.url, am.url, self.simulator.url)
        await self._wait_ready()

    def _write_policy(self) -> None:
        """The policy with its email channels pointed at the simulator's SMTP sink and its
        out-of-band pager as Alertmanager's fallback receiver."""
        document = yaml.safe_load(Path(self.policy_path).read_text(encoding="utf-8"))
        for channel in document.get("channels", {}).values():
            if channel.get("type") == "email":
                channel.update(smtp_host="127.0.0.1", smtp_port=self.simulator.smtp_port,
                               starttls=False)
        env = self.simulator.env()
        # callwatch's own alerts also reach the simulator's out-of-band pager, around callwatch.
        document.setdefault("alertmanager", {})["fallback_receiver"] = {
            "webhook_url": env["SIMULATOR_OOB_URL"]}
        # Synthetic probes of the simulated app: its webhook endpoint and its API.
        document.setdefault("exporter", {})["probe_targets"] = [
            {"name": "app-twilio-webhook", "kind": "twilio_webhook", "provider": "twilio",
             "url": env["APP_WEBHOOK_TWILIO_URL"]},
            {"name": "app-api", "kind": "http", "url": env["APP_API_URL"]},
        ]
        path = self.workdir / "policy.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        self.policy_path = str(path)
        self.policy = load_policy(path)

    def _render(self) -> None:
        token_file = self.workdir / "receiver-token"
        token_file.write_text(self.token + "\n")
        token_file.chmod(0o600)
        options = RenderOptions(
            time_scale=self.time_scale,
            receiver_url=f"http://127.0.0.1:{self._ports['callwatch']}/alerts",
            token_file=str(token_file),
            callwatch_targets=(f"127.0.0.1:{self._ports['callwatch']}",),
            alertmanagers=(f"127.0.0.1:{self._ports['alertmanager']}",))
        files = render_all(self.policy, options)
        for relative in (RULES_PATH, PROMETHEUS_PATH, ALERTMANAGER_PATH):
            target = self.workdir / relative.removeprefix("deploy/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[relative])

    def callwatch_environment(self, callwatch_url: str) -> dict[str, str]:
        env = dict(self.environ)
        env.update(self.simulator.env())
        env.update({
            "CALLWATCH_STORE_URL": f"sqlite:///{self.workdir / 'callwatch.db'}",
            "CALLWATCH_RECEIVER_TOKEN": self.token,
            "CALLWATCH_TIME_SCALE": f"{self.time_scale:g}",
            "CALLWATCH_PUBLIC_URL": callwatch_url,
            "CALLWATCH_PROMETHEUS_URL": f"http://127.0.0.1:{self._ports['prometheus']}",
            "CALLWATCH_ALERTMANAGER_URL": f"http://127.0.0.1:{self._ports['alertmanager']}",
        })
        return env

    def _start_callwatch(self, url: str) -> ManagedProcess:
        import subprocess

        log_path = self.workdir / "callwatch.log"
        argv = [sys.executable, "-m", "callwatch", "run", "--listen",
                f"127.0.0.1:{self._ports['callwatch']}", "--policy", self.policy_path]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=self.workdir,
                                       env=self.callwatch_environment(url),
                                       start_new_session=True)
        return ManagedProcess("callwatch", process, log_path, url)

    async def _wait_ready(self) -> None:
        callwatch, alertmanager, prometheus = self.processes
        async with aiohttp.ClientSession() as session:
            async def ok(url: str) -> bool:
                async with session.get(url) as response:
                    return response.status == 200

            async def targets_up() -> bool:
                async with session.get(f"{prometheus.url}/api/v1/targets") as response:
                    active = (await response.json())["data"]["activeTargets"]
                async with session.get(f"{prometheus.url}/api/v1/alertmanagers") as response:
                    managers = (await response.json())["data"]["activeAlertmanagers"]
                return bool(active) and all(t["health"] == "up" for t in active) and bool(managers)

            await wait_for(lambda: ok(f"{callwatch.url}/healthz"), 30, "callwatch",
                           process=callwatch)
            await wait_for(lambda: ok(f"{alertmanager.url}/api/v2/status"), 30, "Alertmanager",
                           process=alertmanager)
            await wait_for(targets_up, 60, "Prometheus scraping callwatch with Alertmanager wired",
                           process=prometheus)

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await asyncio.to_thread(process.stop)
        self.processes.clear()
        if self.simulator is not None:
            await self.simulator.__aexit__(None, None, None)
            self.simulator = None
