"""The HA settings: the escalation timer lease and the exporter's leader election switch."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from callwatch.web import create_app
from exporter.app import setup_exporter
from receiver.config import load_config


def test_the_timer_lease_defaults_to_10_seconds_and_is_configurable():
    assert load_config({}).timer_lease_seconds == 10.0
    assert load_config({"CALLWATCH_TIMER_LEASE_SECONDS": "3"}).timer_lease_seconds == 3.0


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_timer_lease_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="CALLWATCH_TIMER_LEASE_SECONDS"):
        load_config({"CALLWATCH_TIMER_LEASE_SECONDS": value})


def test_a_bad_leader_url_stops_the_exporter_setup_naming_the_variable(policy):
    app = create_app(policy, registry=CollectorRegistry())
    with pytest.raises(SystemExit, match="CALLWATCH_LEADER_STORE_URL"):
        setup_exporter(app, {"CALLWATCH_LEADER_STORE_URL": "sqlite:///x.db"})


async def test_without_a_leader_url_the_exporter_polls_as_before(policy, aiohttp_client):
    registry = CollectorRegistry()
    app = create_app(policy, registry=registry)
    setup_exporter(app, {"CALLWATCH_STATUSPAGE": "off"})
    client = await aiohttp_client(app)
    from exporter.background import POLLER

    poller = client.server.app[POLLER]
    assert poller._leading is None  # no election: every source loops unconditionally
    assert registry.get_sample_value("callwatch_exporter_polling_leader") is None
