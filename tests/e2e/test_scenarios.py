"""The whole loop per runbook scenario, over the real Prometheus and Alertmanager binaries.

A simulated provider fault becomes a metric past its threshold, a Prometheus alert, an
Alertmanager notification, an incident with the right priority, pages on the right channels
at the simulated PagerDuty, Slack, phone provider and SMTP sink, an escalation when nobody
acknowledges (none after an acknowledgement), and a resolution when the fault ends.
Policy time runs 60 times faster (a 15-minute escalation step takes 15 seconds).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import pytest

from callwatch.demo.stack import DemoStack
from tests.e2e.harness import StackClient, eventually

pytestmark = pytest.mark.e2e
DETECT = 90.0      # seconds from the fault to the incident, with margin for a loaded machine
STEP = 15.0        # the team lead's 15-minute step at time scale 60


@dataclass(frozen=True)
class Case:
    scenario: str
    alertname: str
    provider: str
    priority: str
    acknowledge: bool  # acknowledge at once, then check that nobody more is paged


CASES = [
    Case("total-outage", "TelephonyServiceDown", "all", "P0", False),
    Case("twilio-outage", "TelephonyProviderHealthLow", "twilio", "P1", True),
    Case("high-drop-rate", "TelephonyCallDropRateHigh", "twilio", "P1", False),
    # Webhook failures reach the exporter in bursts (polled Monitor alerts, probe rounds): at 60x
    # the incident can flap, so this case checks the acknowledgement path, not the L2 step.
    Case("webhook-failures", "TelephonyWebhookFailureRateHigh", "twilio", "P1", True),
    Case("poor-quality", "TelephonyCallQualityLow", "telnyx", "P2", True),
]


def _sent_channels(detail: dict, kind: str) -> set[str]:
    return {n["channel"] for n in detail["notifications"]
            if n["kind"] == kind and n["state"] == "sent"}


async def _check_pages(stack, api: StackClient, incident: dict, policy) -> None:
    """Every channel of the priority's route got the trigger; the far sides saw them."""
    route = set(policy.routing[incident["priority"]].channels)
    reachable = route - {"phone"} if incident["provider"] == "all" else route

    async def delivered():
        detail = await api.detail(incident["id"])
        return detail if reachable <= _sent_channels(detail, "trigger") else None

    await eventually(delivered, 30, f"trigger pages on {sorted(reachable)}")
    pages = stack.simulator.notifications()
    if "slack" in route:
        assert any(incident["summary"] in str(m) for m in pages["slack"])
    if "email" in route:
        assert any(incident["id"] in str(m) for m in pages["smtp"])
    if "pagerduty" in route:
        assert any(e.get("dedup_key") == incident["id"] for e in pages["pagerduty"])


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
async def test_a_scenario_pages_escalates_and_resolves(tmp_path, case: Case) -> None:
    async with DemoStack(tmp_path, time_scale=60, call_rate=60) as stack, \
            aiohttp.ClientSession() as session:
        api = StackClient(stack, session)
        stack.simulator.set_scenario(case.scenario)
        incident = await eventually(
            lambda: api.open_incident(case.alertname, case.provider, case.priority), DETECT,
            f"a {case.priority} incident for {case.alertname} on {case.provider}")
        await _check_pages(stack, api, await api.detail(incident["id"]), stack.policy)
        if case.acknowledge:
            status, body = await api.post(f"/incidents/{incident['id']}/ack", {"by": "e2e"})
            assert status == 200 and body["state"] == "acknowledged"
            status, body = await api.post(f"/incidents/{incident['id']}/ack", {"by": "again"})
            assert status == 409 and "already acknowledged by e2e" in body["detail"]
            before = len(await api.escalations(incident["id"]))
            await _quiet_past(api, incident["id"], before, STEP + 5)
        elif case.priority in ("P0", "P1"):
            await eventually(lambda: _escalated_to(api, case, "L2"), STEP + 45,
                             "the team lead's escalation")
        stack.simulator.set_scenario("normal")
        await eventually(lambda: _all_resolved(api, case), DETECT, "the incident to resolve")


async def _escalated_to(api: StackClient, case: Case, level: str) -> list:
    """L2 reached on an incident of this alert (a flap may have reopened it as a new one)."""
    for incident in await api.incidents(case.alertname, case.provider):
        found = [e for e in await api.escalations(incident["id"])
                 if e["detail"].get("level") == level]
        if found:
            return found
    return []


async def _all_resolved(api: StackClient, case: Case) -> bool:
    incidents = await api.incidents(case.alertname, case.provider)
    if not incidents or any(i["state"] != "resolved" for i in incidents):
        return False
    return bool(_sent_channels(await api.detail(incidents[0]["id"]), "resolve"))


async def _quiet_past(api: StackClient, incident_id: str, before: int, seconds: float) -> None:
    """No new engineering escalation for ``seconds`` (past the team lead's step)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        escalations = await api.escalations(incident_id)
        new = [e for e in escalations[before:] if e["detail"].get("chain") == "engineering"]
        assert not new, f"escalated after the acknowledgement: {new}"
        await asyncio.sleep(1.0)
