"""callwatch.instrument with the real twilio and telnyx SDKs against the simulator: what an
application's own requests record, in a fresh registry per test."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import requests as requests_lib
import telnyx
from prometheus_client import CollectorRegistry, Counter, generate_latest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callwatch import instrument
from callwatch.instrument import instrument_telnyx, instrument_twilio
from exporter.metrics import create_metrics
from policy import catalog

REPO = Path(__file__).resolve().parent.parent
FROM, TO = "+15005550006", "+15005550001"
TWIML = "<Response><Say>hello</Say></Response>"


@pytest.fixture
async def sim():
    from simulator import Simulator

    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def requests(registry, provider: str, operation: str, outcome: str) -> float | None:
    return registry.get_sample_value(catalog.API_REQUESTS, {
        "provider": provider, "operation": operation, "outcome": outcome})


def timed(registry, provider: str, operation: str) -> float | None:
    """How many requests the duration histogram observed."""
    return registry.get_sample_value(catalog.API_DURATION + "_count",
                                     {"provider": provider, "operation": operation})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def twilio_sync(sim, registry, base_url: str | None = None, timeout: float = 5) -> Client:
    client = Client(sim.twilio_account_sid, sim.twilio_auth_token, environment={},
                    http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = base_url or sim.url
    return instrument_twilio(client, registry)


def twilio_async(sim, registry, base_url: str | None = None) -> Client:
    client = Client(sim.twilio_account_sid, sim.twilio_auth_token, environment={},
                    http_client=AsyncTwilioHttpClient())
    client.api.base_url = base_url or sim.url
    return instrument_twilio(client, registry)


def place_twilio_call(client: Client):
    return client.calls.create(to=TO, from_=FROM, twiml=TWIML)


def telnyx_dial_args(sim) -> dict:
    return {"connection_id": sim.env()["TELNYX_CONNECTION_ID"], "to": TO, "from_": FROM}


# --- Twilio, sync ------------------------------------------------------------------------------

async def test_a_successful_twilio_call_counts_one_success_for_twilio(sim, registry):
    client = twilio_sync(sim, registry)
    call = await asyncio.to_thread(place_twilio_call, client)
    assert call.sid.startswith("CA")
    assert requests(registry, "twilio", "calls", "success") == 1
    assert requests(registry, "twilio", "calls", "error") == 0
    assert timed(registry, "twilio", "calls") == 1
    assert requests(registry, "telnyx", "calls", "success") is None


async def test_a_failed_twilio_request_counts_as_an_error(sim, registry):
    client = twilio_sync(sim, registry)
    sim.fail("twilio", 500)
    with pytest.raises(TwilioRestException):
        await asyncio.to_thread(place_twilio_call, client)
    assert requests(registry, "twilio", "calls", "error") == 1
    assert requests(registry, "twilio", "calls", "success") == 0
    assert timed(registry, "twilio", "calls") == 1


async def test_a_twilio_request_that_times_out_counts_as_an_error(sim, registry):
    client = twilio_sync(sim, registry, timeout=0.2)
    sim.faults.set_latency("twilio", 1.0)
    with pytest.raises(requests_lib.Timeout):
        await asyncio.to_thread(place_twilio_call, client)
    assert requests(registry, "twilio", "calls", "error") == 1
    assert requests(registry, "twilio", "calls", "success") == 0


async def test_a_twilio_request_that_cannot_connect_counts_as_an_error(sim, registry):
    client = twilio_sync(sim, registry, base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(requests_lib.ConnectionError):
        await asyncio.to_thread(place_twilio_call, client)
    assert requests(registry, "twilio", "calls", "error") == 1


# --- Twilio, async -----------------------------------------------------------------------------

async def test_the_async_twilio_client_counts_a_success_then_a_503_as_an_error(sim, registry):
    client = twilio_async(sim, registry)
    try:
        await client.calls.create_async(to=TO, from_=FROM, twiml=TWIML)
        sim.fail("twilio", 503)
        with pytest.raises(TwilioRestException):
            await client.calls.create_async(to=TO, from_=FROM, twiml=TWIML)
    finally:
        await client.http_client.close()
    assert requests(registry, "twilio", "calls", "success") == 1
    assert requests(registry, "twilio", "calls", "error") == 1
    assert timed(registry, "twilio", "calls") == 2


async def test_an_async_twilio_request_that_cannot_connect_counts_as_an_error(sim, registry):
    client = twilio_async(sim, registry, base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.calls.create_async(to=TO, from_=FROM, twiml=TWIML)
    finally:
        await client.http_client.close()
    assert requests(registry, "twilio", "calls", "error") == 1
    assert requests(registry, "twilio", "calls", "success") == 0


async def test_an_async_twilio_request_the_application_cancels_is_not_counted(sim, registry):
    client = twilio_async(sim, registry)
    sim.faults.set_latency("twilio", 1.0)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.calls.create_async(to=TO, from_=FROM, twiml=TWIML)
    finally:
        await client.http_client.close()
    assert requests(registry, "twilio", "calls", "error") == 0
    assert requests(registry, "twilio", "calls", "success") == 0
    assert timed(registry, "twilio", "calls") == 0


# --- Telnyx ------------------------------------------------------------------------------------

def telnyx_async(sim, registry, **options) -> telnyx.AsyncTelnyx:
    options = {"max_retries": 0, **options}
    return instrument_telnyx(telnyx.AsyncTelnyx(
        api_key=sim.telnyx_api_key, base_url=sim.env()["TELNYX_BASE_URL"], **options), registry)


async def test_a_telnyx_call_dialled_with_the_async_client_counts_one_success(sim, registry):
    client = telnyx_async(sim, registry)
    try:
        dialled = await client.calls.dial(**telnyx_dial_args(sim))
    finally:
        await client.close()
    assert dialled.data.call_control_id
    assert requests(registry, "telnyx", "calls", "success") == 1
    assert requests(registry, "telnyx", "calls", "error") == 0
    assert timed(registry, "telnyx", "calls") == 1
    assert requests(registry, "twilio", "calls", "success") is None


async def test_a_failed_telnyx_request_counts_as_an_error(sim, registry):
    client = telnyx_async(sim, registry)
    sim.fail("telnyx", 500)
    try:
        with pytest.raises(telnyx.InternalServerError):
            await client.calls.dial(**telnyx_dial_args(sim))
    finally:
        await client.close()
    assert requests(registry, "telnyx", "calls", "error") == 1
    assert requests(registry, "telnyx", "calls", "success") == 0


async def test_a_telnyx_request_that_times_out_counts_as_an_error(sim, registry):
    client = telnyx_async(sim, registry, timeout=0.2)
    sim.faults.set_latency("telnyx", 1.0)
    try:
        with pytest.raises(telnyx.APITimeoutError):
            await client.calls.dial(**telnyx_dial_args(sim))
    finally:
        await client.close()
    assert requests(registry, "telnyx", "calls", "error") == 1


async def test_a_telnyx_request_that_cannot_connect_counts_as_an_error(registry):
    client = instrument_telnyx(telnyx.AsyncTelnyx(
        api_key="KEY-unused", base_url=f"http://127.0.0.1:{closed_port()}/v2", max_retries=0),
        registry)
    try:
        with pytest.raises(telnyx.APIConnectionError):
            await client.calls.dial(connection_id="1", to=TO, from_=FROM)
    finally:
        await client.close()
    assert requests(registry, "telnyx", "calls", "error") == 1


async def test_each_attempt_of_a_telnyx_sdk_retry_counts_as_its_own_request(sim, registry):
    client = telnyx_async(sim, registry, max_retries=1)
    sim.fail("telnyx", 503)
    try:
        await client.calls.dial(**telnyx_dial_args(sim))
    finally:
        await client.close()
    assert requests(registry, "telnyx", "calls", "error") == 1
    assert requests(registry, "telnyx", "calls", "success") == 1


async def test_the_sync_telnyx_client_counts_a_success_and_an_error(sim, registry):
    client = instrument_telnyx(telnyx.Telnyx(
        api_key=sim.telnyx_api_key, base_url=sim.env()["TELNYX_BASE_URL"], max_retries=0),
        registry)
    try:
        await asyncio.to_thread(client.calls.dial, **telnyx_dial_args(sim))
        sim.fail("telnyx", 502)
        with pytest.raises(telnyx.APIStatusError):
            await asyncio.to_thread(client.calls.dial, **telnyx_dial_args(sim))
    finally:
        client.close()
    assert requests(registry, "telnyx", "calls", "success") == 1
    assert requests(registry, "telnyx", "calls", "error") == 1


# --- Labels: resources, never ids or credentials -----------------------------------------------

async def test_ids_in_request_paths_never_reach_the_operation_label(sim, registry):
    twilio_client = twilio_async(sim, registry)
    telnyx_client = telnyx_async(sim, registry)
    try:
        call = await twilio_client.calls.create_async(to=TO, from_=FROM, twiml=TWIML)
        await twilio_client.calls(call.sid).fetch_async()
        dialled = await telnyx_client.calls.dial(**telnyx_dial_args(sim))
        control_id = dialled.data.call_control_id
        await telnyx_client.calls.retrieve_status(control_id)
        await telnyx_client.calls.actions.hangup(control_id)
    finally:
        await twilio_client.http_client.close()
        await telnyx_client.close()
    assert requests(registry, "twilio", "calls", "success") == 2
    assert requests(registry, "telnyx", "calls", "success") == 2
    assert requests(registry, "telnyx", "calls_actions_hangup", "success") == 1
    exposed = generate_latest(registry).decode()
    for secret_or_id in (call.sid, control_id, sim.twilio_account_sid, sim.twilio_auth_token,
                         sim.telnyx_api_key, "127.0.0.1", TO):
        assert secret_or_id not in exposed


@pytest.mark.parametrize(("url", "operation"), [
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json",
     "calls"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/"
     "CA0123456789abcdef0123456789abcdef/Recordings.json", "calls_recordings"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
     "IncomingPhoneNumbers.json", "incoming_phone_numbers"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json",
     "accounts"),
    ("https://monitor.twilio.com/v1/Alerts", "monitor_alerts"),
    ("https://insights.twilio.com/v1/Voice/CA0123456789abcdef0123456789abcdef/Summary",
     "insights_voice_summary"),
    ("https://lookups.twilio.com/v2/PhoneNumbers/%2B15005550006", "lookups_phone_numbers"),
    ("http://127.0.0.1:8080/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json",
     "calls"),
    ("https://api.twilio.com/", "other"),
])
def test_a_twilio_url_names_its_resource_without_ids(url, operation):
    assert instrument.twilio_operation(url) == operation


@pytest.mark.parametrize(("path", "prefix", "operation"), [
    ("/v2/calls", "/v2", "calls"),
    ("/v2/calls/v3:Xk2jq0dFq8b-Lw/actions/hangup", "/v2", "calls_actions_hangup"),
    ("/v2/connections/1684641123236054244/active_calls", "/v2", "connections_active_calls"),
    ("/v2/phone_numbers/+15005550006/voice", "", "phone_numbers_voice"),
    ("/proxy/telnyx/v2/detail_records", "/proxy/telnyx/v2", "detail_records"),
    ("/v2/6e1e8c7a-4f7d-4bd1-a0f3-2c1b5f0d9e11", "/v2", "other"),
])
def test_a_telnyx_path_names_its_resource_without_ids(path, prefix, operation):
    assert instrument.operation_of_path(path, prefix) == operation


def test_past_the_cap_new_operations_count_as_other(registry):
    metrics = instrument._metrics_for(registry)
    names = [metrics.operation("telnyx", f"queue_{chr(97 + i // 26)}{chr(97 + i % 26)}")
             for i in range(instrument.MAX_OPERATIONS + 5)]
    assert len(set(names)) == instrument.MAX_OPERATIONS + 1
    assert names[-5:] == ["other"] * 5
    assert metrics.operation("twilio", "calls") == "calls"   # the cap is per provider


# --- Registries --------------------------------------------------------------------------------

async def test_two_clients_on_one_registry_share_the_metrics_and_add_up(sim, registry):
    first, second = twilio_sync(sim, registry), twilio_sync(sim, registry)
    await asyncio.to_thread(place_twilio_call, first)
    await asyncio.to_thread(place_twilio_call, second)
    assert requests(registry, "twilio", "calls", "success") == 2


async def test_instrumenting_a_client_twice_counts_each_request_once(sim, registry):
    client = instrument_twilio(twilio_sync(sim, registry), registry)
    await asyncio.to_thread(place_twilio_call, client)
    assert requests(registry, "twilio", "calls", "success") == 1


async def test_a_registry_holding_the_exporters_metrics_is_counted_into(sim, registry):
    # Same names, labels and buckets as exporter.metrics, or instrumenting would refuse.
    exporter = create_metrics(registry)
    client = twilio_sync(sim, registry)
    await asyncio.to_thread(place_twilio_call, client)
    counted = {(s.labels["provider"], s.labels["operation"], s.labels["outcome"]): s.value
               for s in exporter.api_requests.collect()[0].samples if s.name.endswith("_total")}
    assert counted == {("twilio", "calls", "success"): 1, ("twilio", "calls", "error"): 0}
    assert (instrument.API_DURATION, instrument.API_REQUESTS) == (
        catalog.API_DURATION, catalog.API_REQUESTS)


def test_a_registry_with_a_different_metric_of_that_name_is_refused(registry):
    Counter(catalog.API_REQUESTS, "someone else's", ("provider",), registry=registry)
    with pytest.raises(ValueError, match="already registered as a different metric"):
        instrument_twilio(Client("AC" + "0" * 32, "token", environment={}), registry)


def test_without_a_registry_the_global_one_is_used(monkeypatch, registry):
    import prometheus_client

    assert instrument.REGISTRY is prometheus_client.REGISTRY
    monkeypatch.setattr(instrument, "REGISTRY", registry)   # the session's global stays clean
    instrument_twilio(Client("AC" + "0" * 32, "token", environment={}))
    assert catalog.API_REQUESTS in registry._names_to_collectors


def test_importing_the_module_imports_no_sdk_exporter_or_policy_module():
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import callwatch.instrument"],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=60)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert done.returncode == 0 and "callwatch.instrument" in names
    heavy = {name for name in names if name.split(".")[0] in (
        "exporter", "policy", "receiver", "simulator", "twilio", "telnyx", "httpx", "aiohttp",
        "requests", "yaml")}
    assert heavy == set()


# --- The example -------------------------------------------------------------------------------

async def test_the_example_app_serves_its_own_calls_on_metrics(sim):
    port = closed_port()
    env = {**os.environ, **sim.env(), "METRICS_PORT": str(port), "CALL_TO": TO,
           "CALL_FROM": FROM, "PYTHONPATH": str(REPO)}
    app = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "examples" / "instrumented_app.py"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        lines = [(await asyncio.wait_for(app.stdout.readline(), 30)).decode() for _ in range(2)]
        if not all(lines):   # it exited: say why
            pytest.fail((await app.stderr.read()).decode()[-2000:])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
    finally:
        app.terminate()
        await app.wait()
    assert lines[0].startswith("twilio call CA") and lines[1].startswith("telnyx call v3:")
    for provider in ("twilio", "telnyx"):
        assert (f'{catalog.API_REQUESTS}{{operation="calls",outcome="success",'
                f'provider="{provider}"}} 1.0') in text
    assert len(sim.state.placed_calls()) == 2
