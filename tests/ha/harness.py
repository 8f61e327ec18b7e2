"""Real processes on 127.0.0.1 for the HA tests: receivers on one PostgreSQL database, a
recording notification endpoint, clustered Alertmanagers, and deadline-bound waits.

Receivers are ``python -m callwatch receiver`` subprocesses whose notifiers
(``tests.receiver.standins:build_http_notifiers``) POST every page to ``Recorder``. The
recorder counts a page as delivered only when it answers the sender: while its ``gate`` is
closed, requests park; a request whose sender died meanwhile (SIGKILL) is counted as
``unconfirmed`` instead — that sender never learnt of the delivery, as with a provider that
never answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import psycopg
from aiohttp import web

from callwatch.stack import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ha-test-token-0123456789abcdef"
SLACK_CHANNEL_LINE = "channel: '#incidents'"


class Recorder:
    """The notification endpoint: ``POST /{channel}`` with a Notification as JSON."""

    def __init__(self) -> None:
        self.delivered: dict[str, Counter] = {}
        self.bodies: dict[str, dict] = {}
        self.parked = 0
        self.unconfirmed = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        body = await request.json()
        if not self.gate.is_set():
            self.parked += 1
            await self.gate.wait()
            if request.transport is None or request.transport.is_closing():
                self.unconfirmed += 1  # the sender died waiting: it never saw this succeed
                return web.json_response({"error": "sender gone"}, status=503)
        self.delivered.setdefault(channel, Counter())[body["id"]] += 1
        self.bodies[body["id"]] = body
        return web.json_response({"ref": f"{channel}-{body['id'][:8]}"})

    def count(self, channel: str, kind: str | None = None) -> int:
        return sum(n for i, n in self.delivered.get(channel, Counter()).items()
                   if kind is None or self.bodies[i]["kind"] == kind)

    def ids(self) -> Counter:
        total: Counter = Counter()
        for counts in self.delivered.values():
            total.update(counts)
        return total


async def start_recorder(recorder: Recorder) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/{channel}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/"


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float,
                what: str, interval: float = 0.05) -> float:
    """Wait for ``condition`` (sync or async) until ``timeout``; returns the seconds taken."""
    start = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not reached within {timeout:g}s: {what}")
        await asyncio.sleep(interval)


class Receiver:
    """One ``callwatch receiver`` subprocess."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path,
                 worker: str) -> None:
        self.process, self.port, self.log, self.worker = process, port, log, worker
        self.url = f"http://127.0.0.1:{port}"

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()


async def start_receiver(workdir: Path, store_url: str, notify_url: str, worker: str,
                         **extra_env: str) -> Receiver:
    """Start a receiver and wait (deadline 30 s) until ``/readyz`` answers 200."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CALLWATCH_STORE_URL": store_url,
           "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_WORKER_ID": worker,
           "CALLWATCH_NOTIFIER_FACTORY": "tests.receiver.standins:build_http_notifiers",
           "CALLWATCH_TEST_NOTIFY_URL": notify_url, "CALLWATCH_OUTBOX_LEASE_SECONDS": "2",
           "CALLWATCH_OUTBOX_POLL_SECONDS": "0.1", "CALLWATCH_RETRY_BASE_SECONDS": "0.1",
           "CALLWATCH_RETRY_MAX_SECONDS": "0.3",
           # no Prometheus sends these the heartbeat: a test turns the switch on to watch it;
           # and no test counts the late handoff notice for whoever is on call now
           "CALLWATCH_WATCHDOG": "off", "CALLWATCH_HANDOFF_NOTICES": "off", **extra_env}
    log_path = workdir / f"receiver-{worker}.log"
    with await asyncio.to_thread(open, log_path, "wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwatch", "receiver", "--listen", f"127.0.0.1:{port}",
            cwd=REPO, env=env, stdout=log, stderr=log)
    receiver = Receiver(process, port, log_path, worker)

    try:
        await until_answering(process, f"{receiver.url}/readyz", log_path,
                              f"receiver {worker} ready")
    except AssertionError:
        await receiver.kill()
        raise
    return receiver


def paging_env(sim, workdir: Path) -> dict[str, str]:
    """``start_receiver``'s extra environment for a receiver whose real notifiers
    (``receiver.notify.registry``) page the simulator ``sim``, with the default leases. Its
    policy is deploy/policy.yaml naming the Slack channel by its id, as docs/notifiers.md
    advises (a takeover's look-up reads the channel's history by id)."""
    policy = (REPO / "deploy" / "policy.yaml").read_text()
    if SLACK_CHANNEL_LINE not in policy:
        raise AssertionError(f"deploy/policy.yaml no longer has {SLACK_CHANNEL_LINE!r}")
    path = workdir / "policy-slack-by-id.yaml"
    path.write_text(policy.replace(SLACK_CHANNEL_LINE,
                                   f"channel: {sim.slack.channel_id('#incidents')}"))
    return {**sim.env(), "CALLWATCH_POLICY": str(path),
            "CALLWATCH_NOTIFIER_FACTORY": "receiver.notify.registry:build_notifiers",
            "CALLWATCH_OUTBOX_LEASE_SECONDS": "", "CALLWATCH_TIMER_LEASE_SECONDS": ""}


def slack_pages(sim) -> Counter:
    """Slack messages per outbox row, by the row id each message carries in its metadata."""
    return Counter(m["metadata"]["event_payload"]["page"] for m in sim.slack.messages
                   if m.get("metadata"))


async def until_answering(process: asyncio.subprocess.Process, url: str, log_path: Path,
                          what: str, timeout: float = 30) -> None:
    """Wait until GET ``url`` answers 200; fail at once, with the log's tail, if ``process``
    exits first."""

    async def answering() -> bool:
        if process.returncode is not None:
            tail = (await asyncio.to_thread(log_path.read_text))[-3000:]
            raise AssertionError(f"{what}: the process exited:\n{tail}")
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as response:
                    return response.status == 200
        except aiohttp.ClientError:
            return False

    await until(answering, timeout, what, interval=0.1)


async def post_alerts(session: aiohttp.ClientSession, receiver_url: str, body: dict) -> int:
    """POST a webhook payload; the status (0 when the connection failed)."""
    try:
        async with session.post(f"{receiver_url}/alerts", json=body,
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            await response.read()
            return response.status
    except (TimeoutError, aiohttp.ClientError):
        return 0


def query(store_url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(store_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


async def metric(session: aiohttp.ClientSession, url: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` on ``url``/metrics whose labels include ``labels``
    (0 when there are none)."""
    from prometheus_client.parser import text_string_to_metric_families

    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()))
