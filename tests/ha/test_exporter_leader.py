"""Two ``callwatch exporter`` replicas polling the simulator's Twilio API (a real subprocess),
leader election on PostgreSQL (``CALLWATCH_LEADER_CHECK_SECONDS=0.5``, calls polled every 1 s).

Only the leader polls: the follower makes no API request and counts no call, so the ended-call
counters summed across replicas (what the recording rules do) never exceed the calls the
simulator ended. The leader is killed (SIGKILL); the follower polls within the bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from callwatch.stack import free_port
from tests.ha.harness import REPO, metric, until, until_answering

pytestmark = pytest.mark.binaries
CHECK = 0.5
REQUESTS = "telephony_provider_api_requests_total"
ENDED = "telephony_calls_ended_total"


async def start_simulator(workdir: Path) -> tuple[asyncio.subprocess.Process, dict]:
    err = await asyncio.to_thread(open, workdir / "simulator.err", "wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--rate", "8", "--hold-seconds", "0.3",
        "--report-every", "600",
        # calls are generated only with a target; nothing listens there (webhooks are not used)
        "--target-base-url", f"http://127.0.0.1:{free_port()}", cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE, stderr=err)
    async with asyncio.timeout(30):
        line = await process.stdout.readline()
    ready = json.loads(line)
    assert ready["event"] == "ready", ready
    return process, ready


async def start_exporter(workdir: Path, name: str, policy_file: Path, sim_env: dict,
                         store_url: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CALLWATCH_LEADER_STORE_URL": store_url,
           "CALLWATCH_LEADER_CHECK_SECONDS": str(CHECK), "CALLWATCH_OUTCOMES_TWILIO": "polling",
           **{k: sim_env[k] for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                                      "TWILIO_BASE_URL", "STATUSPAGE_TWILIO_URL",
                                      "STATUSPAGE_TELNYX_URL")}}
    log_path = workdir / f"exporter-{name}.log"
    with await asyncio.to_thread(open, log_path, "wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwatch", "exporter", "--listen", f"127.0.0.1:{port}",
            "--policy", str(policy_file), cwd=REPO, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    await until_answering(process, f"{url}/healthz", log_path, f"exporter {name} up")
    return process, url


async def test_the_polling_leader_dies_and_another_replica_takes_over_without_double_counting(
        postgres_url, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    text = (REPO / "deploy" / "policy.yaml").read_text()
    assert "poll_intervals: {calls: 30s, insights: 5m," in text
    policy_file.write_text(text.replace("poll_intervals: {calls: 30s, insights: 5m,",
                                        "poll_intervals: {calls: 1s, insights: 1s,"))
    simulator, ready = await start_simulator(tmp_path)
    replicas: dict[str, tuple] = {}
    try:
        for name in ("a", "b"):
            replicas[name] = await start_exporter(tmp_path, name, policy_file, ready["env"],
                                                  postgres_url)
        async with aiohttp.ClientSession() as session:
            async def leaders() -> list[str]:
                return [n for n, (p, url) in replicas.items() if p.returncode is None
                        and await metric(session, url, "callwatch_exporter_polling_leader") == 1]

            await until(lambda: _one(leaders()), 15, "exactly one polling leader")
            leader = (await leaders())[0]
            follower = "b" if leader == "a" else "a"
            lead_url, follow_url = replicas[leader][1], replicas[follower][1]
            await until(lambda: _at_least(twilio(session, lead_url, ENDED), 5), 30,
                        "the leader counting ended calls")
            await until(lambda: _at_least(twilio(session, lead_url, REQUESTS), 6), 30,
                        "several leader polls")
            assert await twilio(session, follow_url, REQUESTS) == 0
            assert await twilio(session, follow_url, ENDED) == 0
            counted = (await twilio(session, lead_url, ENDED)
                       + await twilio(session, follow_url, ENDED))
            simulated = await _simulated_ended(session, ready)
            assert 0 < counted <= simulated, (counted, simulated)

            replicas[leader][0].kill()
            await replicas[leader][0].wait()
            took = await until(lambda: _at_least(twilio(session, follow_url, REQUESTS), 1),
                               5 * CHECK + 5, "the follower polling after the leader died")
            assert await metric(session, follow_url, "callwatch_exporter_polling_leader") == 1
            await until(lambda: _at_least(twilio(session, follow_url, ENDED), 1), 30,
                        "the new leader counting ended calls")
            assert await twilio(session, follow_url, ENDED) <= await _simulated_ended(
                session, ready)
        print(f"polling taken over {took:.2f}s after the leader was killed (check {CHECK}s)")
    finally:
        for process, _ in replicas.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        simulator.terminate()
        await simulator.wait()


async def twilio(session: aiohttp.ClientSession, url: str, name: str) -> float:
    return await metric(session, url, name, provider="twilio")


async def _one(names) -> bool:
    return len(await names) == 1


async def _at_least(value, floor: float) -> bool:
    return await value >= floor


async def _simulated_ended(session: aiohttp.ClientSession, ready: dict) -> int:
    async with session.get(f"{ready['env']['SIMULATOR_CONTROL_URL']}/summary") as response:
        summary = await response.json()
    return sum(summary["ended"]["twilio"].values())
