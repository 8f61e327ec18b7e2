"""docs/openapi.yaml: a valid OpenAPI 3.1 document, listing exactly the operations ``callwatch
run`` mounts, and served (narrowed to each process's operations) at ``GET /openapi.json``.
tests/test_api_contract.py sends it real requests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from callwatch import openapi
from callwatch.web import create_app
from exporter.app import setup_exporter
from receiver.app import setup_receiver

DOC = Path(__file__).resolve().parents[1] / "docs/openapi.yaml"
SHELL = {("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json")}


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db",
            "CALLWATCH_RECEIVER_TOKEN": "openapi-test-token", "CALLWATCH_STATUSPAGE": "off",
            "CALLWATCH_WATCHDOG": "off", "CALLWATCH_HANDOFF_NOTICES": "off"}


def app_for(policy, env, *components):
    """The app ``callwatch run`` (both components), ``exporter`` or ``receiver`` builds."""
    app = create_app(policy, CollectorRegistry())
    for setup in components:
        if setup is setup_receiver:
            setup(app, env, notifiers={})
        else:
            setup(app, env)
    return app


def test_the_document_is_valid_openapi_3_1():
    document = yaml.safe_load(DOC.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises OpenAPIValidationError naming the first problem


def test_the_package_serves_the_document_in_docs():
    assert openapi.spec() == yaml.safe_load(DOC.read_text())


def test_the_route_table_and_the_document_list_the_same_operations(policy, env):
    mounted = openapi.operations(app_for(policy, env, setup_exporter, setup_receiver))
    documented = openapi.documented(openapi.spec())
    assert not mounted - documented, f"routes the document lacks: {sorted(mounted - documented)}"
    assert not documented - mounted, f"documented, not mounted: {sorted(documented - mounted)}"
    assert SHELL <= mounted and len(mounted) > 25


@pytest.mark.parametrize(("components", "absent"), [
    ((setup_exporter, setup_receiver), None),
    ((setup_receiver,), ("GET", "/telephony/calls/active")),
    ((setup_exporter,), ("POST", "/alerts")),
])
async def test_each_process_serves_its_own_operations_without_credentials(
        aiohttp_client, policy, env, components, absent):
    app = app_for(policy, env, *components)
    client = await aiohttp_client(app)
    response = await client.get("/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    served = await response.json()
    assert openapi.documented(served) == openapi.operations(app)
    assert served["components"] == openapi.spec()["components"]
    if absent is not None:
        assert absent not in openapi.documented(served) and SHELL <= openapi.documented(served)
        assert absent[1] not in served["paths"]
