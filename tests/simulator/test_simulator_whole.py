"""The whole Simulator: every stand-in reachable through env(), traffic to a target, the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import smtplib
import sys
from email.message import EmailMessage

import aiohttp
import pagerduty
import pytest
import telnyx
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from slack_sdk.web.async_client import AsyncWebClient
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from simulator import Simulator
from simulator.runner import serve

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV_NAMES = {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_BASE_URL", "TELNYX_API_KEY",
             "TELNYX_PUBLIC_KEY", "TELNYX_BASE_URL", "PAGERDUTY_BASE_URL",
             "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_CA_FILE", "SLACK_BASE_URL", "SLACK_BOT_TOKEN",
             "STATUSPAGE_TWILIO_URL", "STATUSPAGE_TELNYX_URL", "SMTP_HOST", "SMTP_PORT"}


async def wait_for(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def twilio_client(env: dict, http) -> Client:
    client = Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], http_client=http)
    for domain in (client.api, client.insights, client.monitor):
        domain.base_url = env["TWILIO_BASE_URL"]
    return client


def _mail(port: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
    message.set_content("body")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


async def test_every_stand_in_answers_the_real_clients_configured_from_env():
    async with Simulator(traffic=False) as sim:
        env = sim.env()
        assert ENV_NAMES <= set(env) and env["TELNYX_BASE_URL"].endswith("/v2")
        assert env["SLACK_BASE_URL"].endswith("/api/")
        sim.generator.generate(20)
        async with AsyncTwilioHttpClient() as http:
            assert len(await twilio_client(env, http).calls.list_async()) > 0
        client = telnyx.AsyncTelnyx(api_key=env["TELNYX_API_KEY"], base_url=env["TELNYX_BASE_URL"])
        records = await client.detail_records.list(filter={"record_type": "call-control"})
        assert records.data
        await client.close()
        slack = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_BASE_URL"])
        assert (await slack.chat_postMessage(channel="#incidents", text="x"))["ok"]
        import ssl
        pd = pagerduty.EventsApiV2Client(env["PAGERDUTY_ROUTING_KEY"],
                                         base_url=env["PAGERDUTY_BASE_URL"],
                                         verify=ssl.create_default_context(
                                             cafile=env["PAGERDUTY_CA_FILE"]))
        await asyncio.to_thread(pd.trigger, "summary", "callwatch", dedup_key="k")
        await asyncio.to_thread(_mail, int(env["SMTP_PORT"]))
        async with aiohttp.ClientSession() as session:
            async with session.get(env["STATUSPAGE_TELNYX_URL"]) as resp:
                assert (await resp.json())["status"]["indicator"] == "none"
        assert [m.subject for m in sim.messages()] == ["hi"]
        assert len(sim.requests("pagerduty")) == 1 and len(sim.requests("slack")) == 1
        notes = sim.notifications()
        assert notes["pagerduty"][0]["dedup_key"] == "k" and notes["smtp"][0]["subject"] == "hi"
    # temporary files removed on exit
    assert not await asyncio.to_thread(os.path.exists, env["PAGERDUTY_CA_FILE"])


class Target:
    """A stand-in for callwatch's webhook endpoints that checks every signature."""

    def __init__(self, sim: Simulator | None) -> None:
        self.sim = sim
        self.good = {"twilio": 0, "telnyx": 0}
        self.bad = 0

    async def twilio(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        ok = RequestValidator(self.sim.twilio_auth_token).validate(
            str(request.url), form, request.headers["X-Twilio-Signature"])
        self._count("twilio", ok)
        return web.Response(text="")

    async def telnyx(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.sim.telnyx_public_key))
        try:
            key.verify(base64.b64decode(request.headers["telnyx-signature-ed25519"]),
                       request.headers["telnyx-timestamp"].encode() + b"|" + body)
            self._count("telnyx", True)
        except Exception:  # noqa: BLE001 - any failure is a bad signature here
            self._count("telnyx", False)
        return web.json_response({})

    def _count(self, provider: str, ok: bool) -> None:
        if ok:
            self.good[provider] += 1
        else:
            self.bad += 1


async def test_traffic_reaches_the_target_signed_and_polling_sees_the_same_calls():
    target = Target(None)
    target_app = web.Application()
    target_app.router.add_post("/telephony/webhooks/twilio", target.twilio)
    target_app.router.add_post("/telephony/webhooks/telnyx", target.telnyx)
    runner, port = await serve(target_app)
    sim = Simulator(target_base_url=f"http://127.0.0.1:{port}", rate=80, hold_seconds=0.2,
                    seed=3)
    target.sim = sim
    try:
        async with sim:
            await wait_for(lambda: min(target.good.values()) >= 20)
            assert target.bad == 0
            async with AsyncTwilioHttpClient() as http:
                listed = await twilio_client(sim.env(), http).calls.list_async(page_size=1000)
            assert {c.sid for c in listed} == {c.id for c in sim.state.provider_calls("twilio")}
    finally:
        await runner.cleanup()


async def test_a_target_base_url_sets_both_webhook_paths():
    sim = Simulator(target_base_url="http://127.0.0.1:9/")
    assert sim.traffic_config.twilio_url == "http://127.0.0.1:9/telephony/webhooks/twilio"
    assert sim.traffic_config.telnyx_url == "http://127.0.0.1:9/telephony/webhooks/telnyx"


async def test_scenarios_switch_through_the_control_api_and_show_in_the_polling_view():
    async with Simulator(traffic=False) as sim:
        async with aiohttp.ClientSession() as session:
            async with session.put(f"{sim.url}/control/scenario",
                                   json={"name": "twilio-outage"}) as resp:
                assert resp.status == 200
            async with session.get(sim.env()["STATUSPAGE_TWILIO_URL"]) as resp:
                assert (await resp.json())["status"]["indicator"] == "major"
            async with session.put(f"{sim.url}/control/scenario", json={"name": "nope"}) as resp:
                assert resp.status == 400 and "high-drop-rate" in (await resp.json())["detail"]
        async with AsyncTwilioHttpClient() as http:
            with pytest.raises(TwilioException) as caught:
                await twilio_client(sim.env(), http).calls.list_async()
        assert caught.value.args[1].status_code == 503
        sim.set_scenario("normal")
        with pytest.raises(ValueError, match="allowed"):
            sim.set_scenario("sideways")


async def test_python_m_simulator_prints_ready_json_and_stops_on_sigint():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--scenario", "poor-quality", "--rate", "5",
        "--report-every", "0.2", cwd=REPO, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert ready["event"] == "ready" and ready["scenario"] == "poor-quality"
        assert ENV_NAMES <= set(ready["env"])
        status = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        assert status["event"] == "status" and status["scenario"] == "poor-quality"
        proc.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(proc.stdout.read(), 10)).decode().strip().splitlines()
        assert json.loads(rest[-1]) == {"event": "stopped"}
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_the_callwatch_simulate_command_takes_the_same_options():
    import argparse

    from callwatch.commands import simulate
    parser = argparse.ArgumentParser()
    simulate.configure(parser)
    args = parser.parse_args(["--scenario", "slow-api", "--rate", "20",
                              "--target-base-url", "http://127.0.0.1:9120"])
    assert (args.scenario, args.rate, args.target_base_url) == (
        "slow-api", 20.0, "http://127.0.0.1:9120")
    with pytest.raises(SystemExit):
        parser.parse_args(["--scenario", "meteor"])
