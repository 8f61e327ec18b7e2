"""The Statuspage stand-in: summary.json per provider, switchable."""

from __future__ import annotations

import aiohttp
import pytest

from simulator.statuspage import set_indicator


async def test_both_pages_start_all_operational(server):

    async with aiohttp.ClientSession() as session:
        for provider in ("twilio", "telnyx"):
            async with session.get(server.make_url(f"/{provider}/api/v2/summary.json")) as resp:
                doc = await resp.json()
            assert resp.status == 200
            assert doc["status"] == {"indicator": "none", "description": "All Systems Operational"}
            assert {c["status"] for c in doc["components"]} == {"operational"}
            assert doc["incidents"] == []


@pytest.mark.parametrize("indicator, component_status", [
    ("minor", "degraded_performance"), ("major", "partial_outage"),
    ("critical", "major_outage")])
async def test_switching_one_provider_changes_only_its_page(server, state, indicator,
                                                             component_status):

    set_indicator(state, "twilio", indicator)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/twilio/api/v2/summary.json")) as resp:
            twilio = await resp.json()
        async with session.get(server.make_url("/telnyx/api/v2/status.json")) as resp:
            telnyx = await resp.json()
    assert twilio["status"]["indicator"] == indicator
    assert twilio["components"][0]["status"] == component_status
    assert twilio["incidents"][0]["impact"] == indicator
    assert telnyx["status"]["indicator"] == "none"


def test_an_unknown_indicator_is_refused_naming_the_allowed_ones(state):
    with pytest.raises(ValueError, match="none, minor, major, critical"):
        set_indicator(state, "twilio", "on-fire")
