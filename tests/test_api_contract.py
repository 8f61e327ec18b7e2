"""docs/openapi.yaml against a live ``callwatch run`` app: schemathesis sends every operation
cases drawn from the document (valid ones, and ones the document rules out) and checks each
answer: no 5xx, a status, content type, headers and body the document allows, and an
operation the document says needs credentials refusing the case sent without them.

The app (exporter and receiver on one port, as ``callwatch run`` mounts them) serves on a real
socket from its own thread and event loop, since schemathesis calls it synchronously; its
Prometheus is a real one with nothing to scrape, its Alertmanager down, its notifiers
in-test recorders. Every provider secret is set, so unsigned callbacks meet the signature
check (403/401) rather than 503 ``not_configured``. Operations naming an incident, a
schedule or a contact are also run with real ones, so their answers are more than 404s.

Bounded: ``EXAMPLES`` cases per operation and mode, derandomized (the same cases every run),
no shrinking; about 20 s on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
import schemathesis
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callwatch.signatures import telnyx_public_key_b64
from callwatch.stack import free_port, start_prometheus, wait_for
from callwatch.web import create_app
from exporter.app import setup_exporter
from receiver.app import setup_receiver
from tests.receiver.standins import RecordingNotifier

pytestmark = pytest.mark.binaries

SPEC = Path(__file__).resolve().parents[1] / "docs/openapi.yaml"
TOKEN = "contract-token-5a"
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, ignored_auth]
SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


class LiveApp:
    """``app`` served on 127.0.0.1 from a thread of its own (its own event loop)."""

    def __init__(self, app: web.Application) -> None:
        self.app, self.port = app, free_port()
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveApp:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def prometheus(prometheus_bin, tmp_path_factory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\n")
    process = start_prometheus(prometheus_bin, config, workdir, free_port())
    try:
        asyncio.run(wait_for(lambda: _ready(process.url), 30, "Prometheus ready",
                             process=process))
        yield process.url
    finally:
        process.stop()


async def _ready(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/-/ready") as response:
        return response.status == 200


@pytest.fixture(scope="module")
def live(policy, prometheus, tmp_path_factory) -> Iterator[LiveApp]:
    port = free_port()
    env = {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path_factory.mktemp('store')}/r.db",
           "CALLWATCH_RECEIVER_TOKEN": TOKEN, "CALLWATCH_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "CALLWATCH_PROMETHEUS_URL": prometheus,
           "CALLWATCH_ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}",
           "CALLWATCH_WATCHDOG": "off", "CALLWATCH_HANDOFF_NOTICES": "off",
           "CALLWATCH_STATUSPAGE": "off", "TWILIO_AUTH_TOKEN": "contract-twilio-token",
           "TELNYX_PUBLIC_KEY": telnyx_public_key_b64(Ed25519PrivateKey.generate()),
           "SLACK_SIGNING_SECRET": "contract-slack-secret",
           "PAGERDUTY_WEBHOOK_SECRET": "contract-pagerduty-secret"}
    app = create_app(policy, CollectorRegistry())
    setup_exporter(app, env)
    setup_receiver(app, env, notifiers={name: RecordingNotifier(name) for name in policy.channels})
    server = LiveApp(app)
    server.port = port
    with server:
        yield server


@pytest.fixture(scope="module")
def known(live, policy) -> dict[str, str]:
    """Real values for path and query parameters that name something: an incident (declared
    here), the shipped policy's first schedule and a contact."""
    response = requests.post(f"{live.url}/incidents", headers=auth(), timeout=10, json={
        "summary": "Contract test", "priority": "P1", "description": "declared by the test"})
    assert response.status_code == 201, response.text
    return {"incident_id": response.json()["id"], "schedule": sorted(policy.schedules)[0],
            "contact": sorted(policy.contacts)[0]}


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def strategies(operation, known: dict[str, str]):
    """The operation's case strategies: valid inputs, invalid ones (when it takes any), and
    valid ones with the real names filled in."""
    modes = [schemathesis.GenerationMode.POSITIVE]
    if any((operation.path_parameters, operation.query, operation.headers, operation.body)):
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    found = [operation.as_strategy(generation_mode=mode) for mode in modes]
    path = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    query = {p.name: known[p.name] for p in operation.query if p.name in known}
    if path or query:
        found.append(operation.as_strategy(path_parameters=path or None, query=query or None))
    return found


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_answer_keeps_to_the_document(label, live, known):
    operation = OPERATIONS[label]
    session = requests.Session()

    for strategy in strategies(operation, known):
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def answer_keeps_to_it(case):
            response = case.call(base_url=live.url, session=session, headers=auth(),
                                 timeout=15)
            case.validate_response(response, checks=CHECKS, headers=auth())

        answer_keeps_to_it()
