"""Kill -9 a real ``python -m callwatch receiver`` with pages pending, start another on the
same SQLite file: every page is delivered exactly once.

The subprocess uses the notifier factory hook (``CALLWATCH_NOTIFIER_FACTORY``) to load
``tests.receiver.standins:build_http_notifiers``: every channel POSTs its notifications to a
recording HTTP endpoint run by this test, which can answer 503 per channel on demand.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from callwatch.stack import free_port
from tests.receiver.conftest import NO_HANDOFF_NOTICES, TOKEN
from tests.receiver.standins import alert, payload

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.delivered: dict[str, Counter] = {}
        self.failing: set[str] = set()
        self.refused = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        body = await request.json()
        if channel in self.failing:
            self.refused[channel] += 1
            return web.json_response({"error": "down"}, status=503)
        self.delivered.setdefault(channel, Counter())[body["id"]] += 1
        return web.json_response({"ref": f"{channel}-{body['id'][:8]}"})

    def count(self, channel: str) -> int:
        return sum(self.delivered.get(channel, Counter()).values())


async def start_receiver(tmp_path: Path, notify_url: str, port: int):
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/receiver.db",
           "CALLWATCH_RECEIVER_TOKEN": TOKEN,
           "CALLWATCH_NOTIFIER_FACTORY": "tests.receiver.standins:build_http_notifiers",
           "CALLWATCH_TEST_NOTIFY_URL": notify_url, "CALLWATCH_OUTBOX_LEASE_SECONDS": "1",
           "CALLWATCH_OUTBOX_POLL_SECONDS": "0.1", "CALLWATCH_RETRY_BASE_SECONDS": "0.1",
           "CALLWATCH_RETRY_MAX_SECONDS": "0.3", **NO_HANDOFF_NOTICES}
    log = await asyncio.to_thread(open, tmp_path / f"receiver-{port}.log", "wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callwatch", "receiver", "--listen", f"127.0.0.1:{port}",
        cwd=REPO, env=env, stdout=log, stderr=log)
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError((tmp_path / f"receiver-{port}.log").read_text())


async def until(predicate, timeout=15.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_a_killed_receiver_leaves_pending_pages_to_the_next_one_delivered_once(
        aiohttp_server, tmp_path):
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/{channel}", recorder.handle)
    server = await aiohttp_server(app)
    notify_url = str(server.make_url("/"))
    recorder.failing = {"email"}                         # email is down, slack is up
    first = await start_receiver(tmp_path, notify_url, free_port_1 := free_port())
    groups = [f"Group{i}" for i in range(5)]
    async with aiohttp.ClientSession() as session:
        for name in groups:                              # P2: slack + email each
            body = payload(alert(name, fingerprint=f"fp-{name}"), group=name)
            async with session.post(f"http://127.0.0.1:{free_port_1}/alerts", json=body,
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 200, await response.text()
    await until(lambda: recorder.count("slack") == 5 and recorder.refused["email"] >= 5)
    first.send_signal(signal.SIGKILL)                    # no clean shutdown
    assert await first.wait() == -signal.SIGKILL
    recorder.failing = set()                             # email recovers
    second = await start_receiver(tmp_path, notify_url, free_port())
    try:
        await until(lambda: recorder.count("email") == 5)
        await asyncio.sleep(1.5)                         # > lease + retry: any duplicate shows
    finally:
        second.send_signal(signal.SIGKILL)
        await second.wait()
    for channel in ("slack", "email"):
        counts = recorder.delivered[channel]
        assert len(counts) == 5 and set(counts.values()) == {1}, (channel, counts)
    assert set(recorder.delivered) == {"slack", "email"}
    logs = "".join(p.read_text() for p in tmp_path.glob("receiver-*.log"))
    assert TOKEN not in logs
