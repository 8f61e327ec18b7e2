"""Payloads captured from the real Alertmanager 0.25 (test_alertmanager_e2e.py), replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.domain.alertmanager import delivery_key, parse_payload
from tests.receiver.conftest import auth

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"alertmanager-{name}.json").read_text())


@pytest.mark.parametrize("name", ["firing", "grouped", "grouped-resolved", "truncated"])
def test_every_captured_payload_parses(name):
    group = parse_payload(load(name))
    assert group.version == "4" and group.alerts
    assert all(a.fingerprint for a in group.alerts)


def test_firing_and_resolved_deliveries_of_one_group_have_different_keys():
    assert delivery_key(parse_payload(load("grouped"))) != delivery_key(
        parse_payload(load("grouped-resolved")))


async def post(client, body):
    response = await client.post("/alerts", data=json.dumps(body), headers=auth())
    assert response.status == 200
    return await response.json()


async def test_replayed_payloads_open_group_and_resolve_incidents(make_client):
    client = await make_client()
    down = await post(client, load("firing"))
    grouped = await post(client, load("grouped"))
    truncated = await post(client, load("truncated"))
    assert (down["priority"], down["notifications"]) == ("P0", 3)
    assert (grouped["priority"], grouped["notifications"]) == ("P2", 2)
    assert truncated["priority"] == "P3"
    again = await post(client, load("grouped"))
    assert again["duplicate"] is True
    resolved = await post(client, load("grouped-resolved"))
    assert (resolved["incident"], resolved["state"]) == (grouped["incident"], "resolved")
    detail = await (await client.get(f"/incidents/{truncated['incident']}")).json()
    assert detail["truncated_alerts"] == 1 and detail["alerts_firing"] == 2
    listed = (await (await client.get("/incidents")).json())["incidents"]
    assert len(listed) == 3
