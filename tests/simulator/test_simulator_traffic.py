"""The traffic generator: outcome mix, MOS, signed webhooks, state kept for polling."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from twilio.request_validator import RequestValidator

from simulator.scenarios import SCENARIOS, get_scenario
from simulator.traffic import TrafficConfig, TrafficGenerator, draw_call
from simulator.webhooks import public_key_b64

TWILIO_URL = "http://127.0.0.1:9120/telephony/webhooks/twilio"
TELNYX_URL = "http://127.0.0.1:9120/telephony/webhooks/telnyx"
NORMAL_TELNYX = {"normal_clearing", "time_limit", "originator_cancel"}


def outcome_of(webhook) -> tuple[str, str, float | None]:
    """(provider, outcome, mos) of a final webhook, by the exporter's definitions."""
    if webhook.provider == "twilio":
        form = dict(parse_qsl(webhook.body.decode()))
        status, sip = form["CallStatus"], int(form.get("SipResponseCode", "200"))
        if status == "completed":
            return "twilio", "completed" if 200 <= sip < 300 else "dropped", None
        return "twilio", {"no-answer": "no_answer"}.get(status, status), None
    payload = json.loads(webhook.body)["data"]["payload"]
    stats, cause = payload["call_quality_stats"], payload["hangup_cause"]
    mos = float(stats["inbound"]["mos"]) if stats else None
    if stats:  # media flowed: answered
        sip = int(payload["sip_hangup_cause"])
        return "telnyx", "completed" if cause in NORMAL_TELNYX and sip < 500 else "dropped", mos
    unanswered = {"user_busy": "busy", "timeout": "no_answer", "no_answer": "no_answer",
                  "originator_cancel": "canceled"}
    return "telnyx", unanswered.get(cause, "failed"), mos


def run_scenario(state, name: str, calls: int = 600, seed: int = 9):
    key = Ed25519PrivateKey.generate()
    generator = TrafficGenerator(state, lambda: get_scenario(name),
                                 TrafficConfig(TWILIO_URL, TELNYX_URL, progress_events=False),
                                 key, rng=random.Random(seed))
    webhooks = generator.generate(calls)
    outcomes = Counter(outcome_of(w)[:2] for w in webhooks)
    return generator, webhooks, outcomes, key


def share(outcomes: Counter, provider: str, wanted: tuple, of: tuple) -> float:
    total = sum(n for (p, o), n in outcomes.items() if p == provider and o in of)
    return sum(n for (p, o), n in outcomes.items() if p == provider and o in wanted) / total


ANSWERED = ("completed", "dropped")
ALL = ("completed", "dropped", "failed", "busy", "no_answer", "canceled")


def test_drawn_drops_follow_the_drop_ratio_among_answered_calls():
    rng = random.Random(1)
    outcomes = Counter(draw_call(SCENARIOS["high-drop-rate"].twilio, rng).outcome
                       for _ in range(5000))
    assert 0.085 <= outcomes["dropped"] / (outcomes["dropped"] + outcomes["completed"]) <= 0.115


def test_the_same_seed_gives_the_same_calls(state):
    first = [outcome_of(w) for w in run_scenario(state, "normal", 50, seed=4)[1]]
    state.reset()
    assert [outcome_of(w) for w in run_scenario(state, "normal", 50, seed=4)[1]] == first


def test_high_drop_rate_drops_about_a_tenth_of_answered_calls_on_both_providers(state):
    _, _, outcomes, _ = run_scenario(state, "high-drop-rate")
    for provider in ("twilio", "telnyx"):
        assert 0.06 <= share(outcomes, provider, ("dropped",), ANSWERED) <= 0.14


def test_normal_traffic_stays_under_every_warning_threshold(state):
    _, webhooks, outcomes, _ = run_scenario(state, "normal")
    for provider in ("twilio", "telnyx"):
        assert share(outcomes, provider, ("dropped",), ANSWERED) < 0.03
        assert share(outcomes, provider, ("failed",), ALL) < 0.02
    moses = [m for w in webhooks if (m := outcome_of(w)[2]) is not None]
    assert 4.1 <= sum(moses) / len(moses) <= 4.5


def test_poor_quality_brings_mos_to_about_2_6_in_telnyx_events_and_twilio_insights(state):
    _, webhooks, _, _ = run_scenario(state, "poor-quality")
    moses = [m for w in webhooks if (m := outcome_of(w)[2]) is not None]
    assert 2.45 <= sum(moses) / len(moses) <= 2.75
    twilio = [c.mos for c in state.provider_calls("twilio") if c.mos is not None]
    assert 2.45 <= sum(twilio) / len(twilio) <= 2.75


@pytest.mark.parametrize("name, down, up", [
    ("twilio-outage", ("twilio",), ("telnyx",)), ("telnyx-outage", ("telnyx",), ("twilio",)),
    ("total-outage", ("twilio", "telnyx"), ())])
def test_an_outage_fails_most_calls_of_the_providers_it_names_only(state, name, down, up):
    _, _, outcomes, _ = run_scenario(state, name)
    for provider in down:
        assert share(outcomes, provider, ("failed", "dropped"), ALL) > 0.85
    for provider in up:
        assert share(outcomes, provider, ("failed",), ALL) < 0.02


def test_webhook_failures_leave_monitor_alerts_and_failed_deliveries_for_about_30_percent(state):
    run_scenario(state, "webhook-failures")
    twilio_calls = len(state.provider_calls("twilio"))
    assert {a.error_code for a in state.alerts} == {"11200"}
    assert 0.24 <= len(state.alerts) / twilio_calls <= 0.36
    failed = sum(d.status == "failed" for d in state.deliveries)
    assert len(state.deliveries) == len(state.provider_calls("telnyx"))
    assert 0.24 <= failed / len(state.deliveries) <= 0.36


def test_twilio_gets_about_sixty_percent_of_calls(state):
    _, _, outcomes, _ = run_scenario(state, "normal")
    twilio = sum(n for (p, _), n in outcomes.items() if p == "twilio")
    assert 0.54 <= twilio / sum(outcomes.values()) <= 0.66


def test_every_twilio_callback_carries_a_valid_signature_and_the_documented_fields(state):
    _, webhooks, _, _ = run_scenario(state, "normal", 40)
    validator = RequestValidator(state.twilio_auth_token)
    twilio = [w for w in webhooks if w.provider == "twilio"]
    assert twilio
    for webhook in twilio:
        form = dict(parse_qsl(webhook.body.decode()))
        assert validator.validate(TWILIO_URL, form, webhook.headers["X-Twilio-Signature"])
        assert {"CallSid", "CallStatus", "CallDuration", "SipResponseCode", "SequenceNumber",
                "Timestamp", "Direction", "From", "To", "AccountSid"} <= set(form)
    forged = dict(parse_qsl(twilio[0].body.decode()), CallStatus="busy")
    assert not validator.validate(TWILIO_URL, forged, twilio[0].headers["X-Twilio-Signature"])


def test_every_telnyx_event_is_ed25519_signed_over_timestamp_and_body(state):
    _, webhooks, _, key = run_scenario(state, "normal", 40)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64(key)))
    telnyx = [w for w in webhooks if w.provider == "telnyx"]
    assert telnyx
    for webhook in telnyx:
        signed = f"{webhook.headers['telnyx-timestamp']}|".encode() + webhook.body
        public.verify(base64.b64decode(webhook.headers["telnyx-signature-ed25519"]), signed)
        data = json.loads(webhook.body)["data"]
        assert data["event_type"] == "call.hangup" and data["record_type"] == "event"
        stats = data["payload"]["call_quality_stats"]
        if stats is not None:
            assert all(isinstance(v, str) for v in stats["inbound"].values())


def test_stepping_the_clock_starts_calls_at_the_rate_and_keeps_them_active_until_they_end(
        state, clock):
    generator = TrafficGenerator(state, lambda: SCENARIOS["normal"],
                                 TrafficConfig(TWILIO_URL, TELNYX_URL, rate=20, hold_seconds=3),
                                 Ed25519PrivateKey.generate(), rng=random.Random(2))
    generator.step()
    for _ in range(50):
        clock.advance(0.1)
        generator.step()
    assert 95 <= generator.stats.started <= 101
    assert state.active_calls("twilio") and state.active_calls("telnyx")
    generator.config.rate = 0  # stop new calls: the ones up must all end within their hold
    clock.advance(10)
    generator.step()
    assert not state.active_calls("twilio") and not state.active_calls("telnyx")


def test_answered_calls_announce_themselves_when_progress_events_are_on(state, clock):
    generator = TrafficGenerator(state, lambda: SCENARIOS["normal"],
                                 TrafficConfig(TWILIO_URL, TELNYX_URL, rate=10),
                                 Ed25519PrivateKey.generate(), rng=random.Random(2))
    generator.step()
    clock.advance(1)
    events = {w.event for w in generator.step()}
    assert {"in-progress", "call.answered"} <= events


async def test_a_dialled_telnyx_call_is_answered_with_its_client_state_then_hung_up(
        aiohttp_client, state, clock, recorder, faults):
    import telnyx

    from simulator.app import create_app
    server = await aiohttp_client(create_app(state, recorder, faults))
    client = telnyx.AsyncTelnyx(api_key=state.telnyx_api_key, max_retries=0,
                                base_url=str(server.make_url("/v2")))
    dialled = await client.calls.dial(connection_id=state.telnyx_connection_id, from_="+1500",
                                      to="+1415", client_state="eyJjYWxsd2F0Y2giOiJwYWdlIn0=")
    await client.close()
    generator = TrafficGenerator(state, lambda: SCENARIOS["normal"],
                                 TrafficConfig(TWILIO_URL, TELNYX_URL, rate=0, hold_seconds=2,
                                               answer_placed_calls=True),
                                 Ed25519PrivateKey.generate(), rng=random.Random(2))
    [answered] = generator.step()
    data = json.loads(answered.body)["data"]
    assert data["event_type"] == "call.answered"
    assert data["payload"]["call_control_id"] == dialled.data.call_control_id
    assert data["payload"]["client_state"] == "eyJjYWxsd2F0Y2giOiJwYWdlIn0="
    assert generator.step() == []  # answered once only
    clock.advance(2)
    [hangup] = generator.step()
    assert json.loads(hangup.body)["data"]["event_type"] == "call.hangup"
