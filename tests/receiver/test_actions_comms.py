"""Communications, the post-incident report, and vendor escalation, from real incidents."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from callwatch.access import configure_access
from callwatch.credentials import Credentials
from callwatch.web import create_app
from exporter.calls import CallEvent, CallTracker
from exporter.health import ProviderState, provider_health
from exporter.metrics import create_metrics
from receiver.config import load_config
from receiver.domain.communications import Communications
from receiver.domain.context import incident_context
from receiver.domain.model import Event, Incident
from receiver.domain.vendor import vendor_payloads
from receiver.services.vendor import fetch_health, health_url, vendor_context
from tests.receiver.conftest import TOKEN
from tests.receiver.test_actions import DECLARED, call, open_incident

RUNBOOK = "https://runbooks.example/high-call-drop-rate.md"


async def communications(client, incident_id: str) -> dict:
    response = await client.get(f"/incidents/{incident_id}/communications")
    assert response.status == 200
    return await response.json()


@pytest.fixture
async def exporter_server(aiohttp_server, clock, policy):
    """The exporter's provider health endpoint, from its real code, with 3 failed Twilio calls,
    behind the web shell's access check: it answers the receiver token only."""
    tracker = CallTracker(create_metrics(CollectorRegistry()), clock=clock)
    for i in range(3):
        tracker.ingest(CallEvent("twilio", f"CAfail{i}", "ended", cause="failed"))
    tracker.ingest(CallEvent("twilio", "CAok", "ended", cause="completed"))
    state = ProviderState(polling=True, api_up=False, last_error="HTTP 503 from api.twilio.com")

    async def health(request: web.Request) -> web.Response:
        return web.json_response(provider_health(request.match_info["provider"], tracker,
                                                 state, minimum_calls=1))

    app = create_app(policy, CollectorRegistry())
    configure_access(app, {"CALLWATCH_RECEIVER_TOKEN": TOKEN})
    app.router.add_get("/telephony/providers/{provider}/health", health)
    return await aiohttp_server(app)


async def test_every_communication_is_rendered_from_a_real_p0_incident(make_client):
    client = await make_client(env={"TWILIO_ACCOUNT_SID": "AC0123456789abcdef",
                                    "CALLWATCH_PUBLIC_URL": "https://callwatch.example"})
    incident_id = await open_incident(client)  # TelephonyServiceDown on twilio, P0
    body = await communications(client, incident_id)
    notice = body["internal_notice"]
    for field in (f"INCIDENT {incident_id} DECLARED - P0 (Critical)", "Telephony Platform",
                  "Impact:   6.2% of answered calls dropped", "Provider: twilio",
                  "Acknowledge within 15m.", RUNBOOK, "https://status.example.com/",
                  f"https://callwatch.example/incidents/{incident_id}",
                  "TelephonyServiceDown [critical]"):
        assert field in notice
    assert f"<h2>Incident {incident_id} declared" in body["internal_notice_html"]
    assert "Status: Investigating" in body["customer_notice"]
    assert "6.2% of answered calls dropped" in body["customer_notice"]
    assert body["vendor_email"].startswith(
        "Subject: URGENT: service escalation - Twilio account AC0123456789abcdef")
    assert "Outage: complete loss of service" in body["vendor_email"]
    assert "TelephonyServiceDown on twilio" in body["voice_script"]
    assert "priority 0" in body["voice_script"]


async def test_a_p2_incident_has_no_customer_notice(make_client):
    client = await make_client()
    incident_id = await open_incident(client, "grouped")  # P2, led by telnyx
    body = await communications(client, incident_id)
    assert body["customer_notice"] is None
    assert "(not configured: set TELNYX_ACCOUNT_ID)" in body["vendor_email"]
    assert "Connection ID: (not configured)" in body["vendor_email"]
    assert "Acknowledge within 2h." in body["internal_notice"]


async def test_an_incident_about_no_vendor_has_no_vendor_email(make_client):
    client = await make_client()
    _status, declared = await call(client, "/incidents", DECLARED)
    body = await communications(client, declared["id"])
    assert body["vendor_email"] is None
    assert body["customer_notice"] is not None  # P0
    assert f"Impact:   {DECLARED['description']}" in body["internal_notice"]


async def test_the_vendor_email_carries_the_exporters_failed_calls(make_client, exporter_server):
    client = await make_client(env={"CALLWATCH_EXPORTER_URL": str(exporter_server.make_url("")),
                                    "TWILIO_ACCOUNT_SID": "AC42"})
    incident_id = await open_incident(client)
    email = (await communications(client, incident_id))["vendor_email"]
    for call_id in ("CAfail0", "CAfail1", "CAfail2"):
        assert f"- {call_id}" in email
    assert "CAok" not in email
    assert "API: HTTP 503 from api.twilio.com" in email
    assert "3 failed of 4 ended calls" in email


async def test_an_unreachable_exporter_leaves_the_evidence_empty(make_client, unused_tcp_port):
    client = await make_client(env={"CALLWATCH_EXPORTER_URL":
                                    f"http://127.0.0.1:{unused_tcp_port}"})
    incident_id = await open_incident(client)
    email = (await communications(client, incident_id))["vendor_email"]
    assert "Example call ids:\n- (none recorded)" in email


async def test_the_report_has_the_seed_sections_and_the_real_timeline(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)
    clock.advance(20 * 60)  # past the P0's 15m response time
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    clock.advance(10 * 60)
    await call(client, f"/incidents/{incident_id}/resolve", {"by": "Ada"})
    response = await client.get(f"/incidents/{incident_id}/report")
    assert response.status == 200 and response.content_type == "text/markdown"
    text = await response.text()
    for section in ("## 1. Executive summary", "## 2. Timeline", "## 3. Root cause analysis",
                    "## 4. Impact assessment", "## 5. Lessons learned",
                    "## 6. Preventive measures"):
        assert section in text
    assert "| opened | alertmanager | priority=P0" in text
    assert "| acknowledged | Ada | after_seconds=1200" in text
    assert "| resolved | Ada |" in text
    assert "**Time to acknowledge (MTTA):** 20m" in text
    assert "**Time to resolve (MTTR):** 30m" in text
    assert "**Response SLA (15m):** breached" in text
    assert "- TelephonyServiceDown [critical] on twilio: 6.2% of answered calls dropped" in text
    assert text.count("**TO DO**") >= 8


async def test_a_quick_acknowledgement_meets_the_sla_in_the_report(make_client, clock):
    client = await make_client()
    incident_id = await open_incident(client)
    clock.advance(5 * 60)
    await call(client, f"/incidents/{incident_id}/ack", {"by": "Ada"})
    text = await (await client.get(f"/incidents/{incident_id}/report")).text()
    assert "**Response SLA (15m):** met" in text and "not resolved yet" in text


@pytest.mark.parametrize("path", ["communications", "report"])
async def test_an_unknown_incident_is_404_json(make_client, path):
    client = await make_client()
    response = await client.get(f"/incidents/missing-1/{path}")
    body = await response.json()
    assert (response.status, body["error"]) == (404, "not_found")
    assert "missing-1" in body["detail"]


# --- the pure parts ------------------------------------------------------------------------

def _incident(**changes) -> Incident:
    base = Incident(id="inc-1", group_key="g", priority="P1", state="triggered",
                    summary="Provider health low on twilio", provider="twilio",
                    opened_at=1_800_000_000.0, alerts=[{
                        "status": "firing", "labels": {"alertname": "TelephonyProviderHealthLow",
                                                       "severity": "critical",
                                                       "provider": "twilio"},
                        "annotations": {"description": "health 0.62 (critical below 0.7)"}}])
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("changes,events,now,breached", [
    pytest.param({}, [], None, False, id="an open incident without a clock is not breached"),
    pytest.param({}, [], 1_800_000_000.0 + 1801, True,
                 id="an open P1 unacknowledged after 30m1s is breached"),
    pytest.param({"state": "acknowledged", "acked_at": 1_800_000_000.0 + 1799}, [], None, False,
                 id="a P1 acknowledged at 29m59s is not breached"),
    pytest.param({"state": "acknowledged", "acked_at": 1_800_000_000.0 + 1801}, [], None, True,
                 id="a P1 acknowledged at 30m1s is breached"),
    pytest.param({}, [Event("inc-1", 1.0, "sla_breached", "escalation", {})], None, True,
                 id="an sla_breached timeline event is a breach"),
])
def test_the_sla_verdict(policy, changes, events, now, breached):
    context = incident_context(_incident(**changes), events, policy, "", now=now)
    assert context["report"]["sla_breached"] is breached
    assert context["incident"]["response_time"] == "30m"


async def test_vendor_payloads_draft_to_on_call_and_copy_the_vendor_only_when_opted_in(
        policy, exporter_server, aiohttp_client):
    import aiohttp

    incident = _incident()
    env = {"CALLWATCH_EXPORTER_URL": str(exporter_server.make_url("")),
           "CALLWATCH_RECEIVER_TOKEN": TOKEN,  # the exporter takes the receiver's token
           "TWILIO_ACCOUNT_SID": "AC77", "TWILIO_NUMBERS": "+15550001, +15550002"}
    ids = iter(f"id{i}" for i in range(10))
    async with aiohttp.ClientSession() as session:
        vendor = await vendor_context(incident, policy, load_config(env), session,
                                      now=incident.opened_at + 1800)
    assert vendor["time_window"] == "2027-01-15 08:00-08:30 UTC (ongoing)"
    comms = Communications()
    kwargs = {"now": incident.opened_at + 1800, "new_id": lambda: next(ids),
              "batch": "vendor:twilio", "comms": comms}
    drafts = vendor_payloads(incident, [], policy, vendor, **kwargs)
    assert [(r.channel, r.kind, r.payload["recipients"]) for r in drafts] == [
        ("email", "escalate", ["oncall@example.com"])]
    assert "AC77" in drafts[0].payload["text"] and "CAfail0" in drafts[0].payload["text"]
    opted_in = dataclasses.replace(policy, vendors={**policy.vendors, "twilio": dataclasses.replace(
        policy.vendors["twilio"], send_to_vendor=True,
        account={"account_id_env": "TWILIO_ACCOUNT_SID", "numbers_env": "TWILIO_NUMBERS"})})
    async with aiohttp.ClientSession() as session:
        vendor = await vendor_context(incident, opted_in, load_config(env), session,
                                      now=incident.opened_at + 1800)
    both = vendor_payloads(incident, [], opted_in, vendor, **kwargs)
    assert [r.payload["recipients"] for r in both] == [["oncall@example.com"],
                                                       ["support@twilio.com"]]
    assert both[1].batch == "vendor:twilio:vendor"
    assert both[1].payload["text"].startswith("Dear Twilio Support")
    assert "+15550001, +15550002" in both[1].payload["text"]
    assert vendor_payloads(_incident(provider="all"), [], policy, vendor, **kwargs) == []


async def test_vendor_drafts_read_the_exporter_with_the_receiver_token(exporter_server):
    import aiohttp

    url = health_url(str(exporter_server.make_url("")), "twilio")
    async with aiohttp.ClientSession() as session:
        refused = await fetch_health(session, url)     # no credentials: the exporter says 401
        body = await fetch_health(session, url, Credentials(token=TOKEN))
    assert refused is None
    assert body["provider"] == "twilio" and body["health_ratio"] is not None


async def test_a_policy_template_override_is_used_by_the_endpoint(make_client, policy, tmp_path):
    mine = tmp_path / "voice.j2"
    mine.write_text("Wake up, {{ incident.priority }}: {{ incident.summary }}")
    client = await make_client(policy=dataclasses.replace(
        policy, templates={"voice_script": str(mine)}))
    incident_id = await open_incident(client)
    body = await communications(client, incident_id)
    assert body["voice_script"] == "Wake up, P0: TelephonyServiceDown on twilio"


def test_a_broken_template_override_stops_start_up_naming_it(policy, tmp_path):
    from callwatch.web import create_app
    from receiver.app import setup_receiver

    broken = tmp_path / "broken.j2"
    broken.write_text("{% if %}")
    app = create_app(dataclasses.replace(policy, templates={"customer_notice": str(broken)}),
                     CollectorRegistry())
    with pytest.raises(SystemExit, match="customer_notice: line 1"):
        setup_receiver(app, {"CALLWATCH_STORE_URL": f"sqlite://{tmp_path}/r.db"}, notifiers={})
