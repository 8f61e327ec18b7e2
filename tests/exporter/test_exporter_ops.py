"""The ops endpoints the runbooks call: active calls, active quality, provider health."""

import pytest
from exporter_testkit import post_telnyx, post_twilio, telnyx_body, twilio_form


async def test_active_calls_lists_live_calls_by_provider_state_and_direction(client, telnyx_key):
    await post_twilio(client, twilio_form("CA1", "ringing", SequenceNumber="0"))
    await post_twilio(client, twilio_form("CA2", "in-progress", SequenceNumber="1",
                                          Direction="inbound"))
    await post_telnyx(client, telnyx_key, telnyx_body("call.initiated", "L1", direction="incoming"))
    body = await (await client.get("/telephony/calls/active")).json()
    assert body["total"] == 3
    assert body["providers"]["twilio"] == {"active": 2, "by_state": {"ringing": 1, "answered": 1},
                                           "by_direction": {"outbound": 1, "inbound": 1}}
    assert body["providers"]["telnyx"]["by_direction"] == {"inbound": 1}
    assert {c["call_id"] for c in body["calls"]} == {"CA1", "CA2", "L1"}
    only = await (await client.get("/telephony/calls/active?provider=telnyx&limit=0")).json()
    assert only["total"] == 1 and only["calls"] == [] and only["truncated"] is True


@pytest.mark.parametrize("query,status", [("?provider=skype", 404), ("?limit=x", 400),
                                          ("?limit=5000", 400)],
                         ids=["an unknown provider is a 404", "a non-numeric limit is a 400",
                              "a huge limit is a 400"])
async def test_active_calls_rejects_bad_queries_with_json(client, query, status):
    response = await client.get("/telephony/calls/active" + query)
    assert response.status == status
    assert set(await response.json()) >= {"error", "detail"}


async def test_quality_reports_recent_mos_against_the_policy_thresholds(client, telnyx_key):
    for i, mos in enumerate(("2.8", "2.9", "3.1")):
        await post_telnyx(client, telnyx_key, telnyx_body(
            "call.hangup", f"Q{i}", hangup_cause="normal_clearing",
            call_quality_stats={"inbound": {"mos": mos}}))
    body = await (await client.get("/telephony/calls/active/quality")).json()
    telnyx = body["providers"]["telnyx"]
    assert telnyx["samples"] == 3 and telnyx["mos_avg"] == pytest.approx(2.933, abs=1e-3)
    assert telnyx["status"] == "critical" and telnyx["below_warning"] == 3
    assert body["providers"]["twilio"]["status"] == "no_data"
    assert body["thresholds"] == {"warning": 3.5, "critical": 3.0}


async def test_health_counts_outcomes_and_lists_recent_failed_calls(client, policy):
    statuses = ["completed"] * 18 + ["failed", "busy", "no-answer"]
    for i, status in enumerate(statuses):
        await post_twilio(client, twilio_form(f"CA{i}", status))
    await post_twilio(client, twilio_form("CAdrop", "completed", SipResponseCode="503"))
    body = await (await client.get("/telephony/providers/twilio/health")).json()
    calls = body["inputs"]["calls"]
    assert calls["ended"]["completed"] == 18 and calls["ended"]["dropped"] == 1
    # busy and no_answer are not the provider's fault: 18 / (18 + 1 failed + 1 dropped)
    assert calls["success_ratio"] == pytest.approx(0.9)
    assert body["health_ratio"] == pytest.approx(0.9) and body["status"] == "healthy"
    assert [c["call_id"] for c in body["recent_failed_calls"]] == ["CAdrop", "CA18"]
    assert body["inputs"]["api"]["polling"] is False


async def test_health_with_too_few_calls_does_not_judge(client):
    await post_twilio(client, twilio_form("CA1", "failed"))
    body = await (await client.get("/telephony/providers/twilio/health")).json()
    assert body["health_ratio"] is None and body["status"] == "unknown"
    assert body["inputs"]["calls"]["counted_in_ratio"] is False


async def test_health_of_an_unknown_provider_is_a_404_naming_the_known_ones(client):
    response = await client.get("/telephony/providers/vonage/health")
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "unknown_provider"
    assert "twilio" in body["detail"] and "telnyx" in body["detail"]


async def test_outcomes_leave_the_health_window(client, clock):
    await post_twilio(client, twilio_form("CA1", "failed"))
    clock.now += 3600
    body = await (await client.get("/telephony/providers/twilio/health")).json()
    assert body["inputs"]["calls"]["ended"]["failed"] == 0


async def test_a_call_whose_end_never_arrives_is_forgotten_after_max_call_age(client, clock):
    from exporter.background import POLLER, SweepSource
    from exporter.keys import TRACKER
    await post_twilio(client, twilio_form("CAlost", "in-progress"))
    tracker = client.server.app[TRACKER]
    sweep = next(s for s in client.server.app[POLLER].sources if isinstance(s, SweepSource))
    await sweep.poll()
    assert tracker.active_count("twilio") == 1
    clock.now += tracker.max_call_age + 1
    await sweep.poll()
    assert tracker.active_count("twilio") == 0
    body = await (await client.get("/telephony/calls/active")).json()
    assert body["total"] == 0
