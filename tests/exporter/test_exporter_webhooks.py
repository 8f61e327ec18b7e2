"""The webhook endpoints: signatures, bad input, duplicates, outcomes, MOS, active calls."""


import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exporter_testkit import (
    NOW,
    PUBLIC_URL,
    TWILIO_TOKEN,
    make_app,
    post_telnyx,
    post_twilio,
    sample,
    telnyx_body,
    twilio_form,
)

ENDED = "telephony_calls_ended_total"
DELIVERIES = "telephony_webhook_deliveries_total"
SIG_FAILURES = "telephony_webhook_signature_failures_total"


def ended(client, provider, outcome, direction="outbound"):
    return sample(client, ENDED, {"provider": provider, "direction": direction, "outcome": outcome})


async def error_of(response, status):
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) >= {"error", "detail"}
    return body


# -- Twilio ---------------------------------------------------------------------------------
async def test_a_signed_twilio_completed_callback_counts_one_completed_call(client):
    response = await post_twilio(client, twilio_form("CA1", "completed", SipResponseCode="200"))
    assert response.status == 200
    assert (await response.json()) == {"status": "accepted"}
    assert ended(client, "twilio", "completed") == 1
    assert sample(client, DELIVERIES, {"provider": "twilio", "source": "provider",
                                       "outcome": "success"}) == 1


async def test_a_twilio_completed_call_with_sip_503_counts_as_dropped(client):
    await post_twilio(client, twilio_form("CA2", "completed", SipResponseCode="503"))
    assert ended(client, "twilio", "dropped") == 1
    assert ended(client, "twilio", "completed") == 0


async def test_twilio_signature_is_checked_against_the_public_url_not_the_internal_one(client):
    form = twilio_form("CA3", "completed")
    internal = str(client.make_url("/telephony/webhooks/twilio"))
    response = await post_twilio(client, form, sign_url=internal)
    body = await error_of(response, 403)
    assert body["error"] == "invalid_signature"
    assert PUBLIC_URL in body["detail"]
    assert sample(client, SIG_FAILURES, {"provider": "twilio"}) == 1


async def test_twilio_signature_covers_the_query_string(client):
    form = twilio_form("CA4", "completed")
    path = "/telephony/webhooks/twilio?tenant=a"
    response = await post_twilio(client, form, path=path)
    assert response.status == 200
    forged = await client.post("/telephony/webhooks/twilio?tenant=b",
                               data=form, headers={"X-Twilio-Signature": (await _sig(form, path))})
    await error_of(forged, 403)


async def _sig(form, path):
    from callwatch.signatures import twilio_sign
    return twilio_sign(TWILIO_TOKEN, PUBLIC_URL + path, form)


async def test_twilio_shared_key_sha256_callbacks_are_accepted(aiohttp_client, policy, base_env,
                                                                clock):
    env = dict(base_env, TWILIO_WEBHOOK_SHARED_KEY="shared-secret-value")
    client = await aiohttp_client(make_app(policy, env, clock))
    from callwatch.signatures import twilio_sign
    form = twilio_form("CA5", "busy")
    url = PUBLIC_URL + "/telephony/webhooks/twilio"
    headers = {"X-Twilio-Signature": twilio_sign("shared-secret-value", url, form, "HMAC_SHA256"),
               "X-Twilio-Webhooks-Signature-Settings": "key=KSx,algorithm=HMAC_SHA256"}
    response = await client.post("/telephony/webhooks/twilio", data=form, headers=headers)
    assert response.status == 200
    assert ended(client, "twilio", "busy") == 1


BAD_TWILIO = [
    ("an unsigned request is forbidden", {}, None, 403, "invalid_signature"),
    ("a request signed with the wrong token is forbidden", {}, "wrong-token", 403,
     "invalid_signature"),
]


@pytest.mark.parametrize("name,extra,token,status,code", BAD_TWILIO, ids=[c[0] for c in BAD_TWILIO])
async def test_bad_twilio_signatures(client, name, extra, token, status, code):
    form = twilio_form("CA6", "completed")
    if token is None:
        response = await client.post("/telephony/webhooks/twilio", data=form)
    else:
        response = await post_twilio(client, form, token=token)
    body = await error_of(response, status)
    assert body["error"] == code
    assert sample(client, SIG_FAILURES, {"provider": "twilio"}) == 1
    assert ended(client, "twilio", "completed") == 0


async def test_runbook_3_curl_with_a_json_body_and_no_signature_is_forbidden(client):
    response = await client.post("/telephony/webhooks/twilio", data='{"test": true}',
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    body = await error_of(response, 403)
    assert "X-Twilio-Signature" in body["detail"]


async def test_a_signed_twilio_callback_without_callsid_is_a_400_and_a_failed_delivery(client):
    form = twilio_form("CA7", "completed")
    del form["CallSid"]
    body = await error_of(await post_twilio(client, form), 400)
    assert "CallSid" in body["detail"]
    assert sample(client, DELIVERIES, {"provider": "twilio", "source": "provider",
                                       "outcome": "failure"}) == 1


async def test_a_signed_twilio_callback_with_a_bad_sequence_number_is_a_400(client):
    body = await error_of(await post_twilio(
        client, twilio_form("CA8", "ringing", SequenceNumber="abc")), 400)
    assert "SequenceNumber" in body["detail"]


async def test_a_twilio_callback_that_is_not_a_form_is_a_400(client):
    response = await client.post("/telephony/webhooks/twilio", data=b'{"CallSid": "x"}',
                                 headers={"X-Twilio-Signature": "abc",
                                          "Content-Type": "application/json"})
    body = await error_of(response, 400)
    assert "x-www-form-urlencoded" in body["detail"]


async def test_a_twilio_body_over_the_limit_is_a_413(client):
    form = twilio_form("CA9", "completed", Padding="x" * 70_000)
    body = await error_of(await post_twilio(client, form), 413)
    assert "limit" in body["detail"]


async def test_a_chunked_body_over_the_limit_is_a_413(client):
    async def chunks():
        for _ in range(80):
            yield b"x" * 1024
    response = await client.post("/telephony/webhooks/twilio", data=chunks(),
                                 headers={"X-Twilio-Signature": "abc"})
    await error_of(response, 413)


async def test_webhooks_without_secrets_answer_503_not_configured(aiohttp_client, policy, clock):
    client = await aiohttp_client(make_app(policy, {"CALLWATCH_STATUSPAGE": "off"}, clock))
    for provider in ("twilio", "telnyx"):
        response = await client.post(f"/telephony/webhooks/{provider}", data=b"CallSid=x")
        body = await error_of(response, 503)
        assert body["error"] == "not_configured"
        assert provider in body["detail"]
    ready = await (await client.get("/readyz")).json()
    assert "503" in ready["checks"]["exporter_webhooks"]["detail"]


async def test_duplicate_twilio_callbacks_count_once(client):
    form = twilio_form("CA10", "completed")
    statuses = [(await (await post_twilio(client, form)).json())["status"] for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    assert ended(client, "twilio", "completed") == 1


async def test_out_of_order_twilio_callbacks_do_not_revive_an_ended_call(client):
    await post_twilio(client, twilio_form("CA11", "ringing", SequenceNumber="1"))
    await post_twilio(client, twilio_form("CA11", "in-progress", SequenceNumber="2"))
    assert sample(client, "telephony_calls_active", {"provider": "twilio"}) == 1
    await post_twilio(client, twilio_form("CA11", "completed", SequenceNumber="3"))
    late = await post_twilio(client, twilio_form("CA11", "ringing", SequenceNumber="1",
                                                 Timestamp="late"))
    assert (await late.json())["status"] == "out_of_order"
    assert sample(client, "telephony_calls_active", {"provider": "twilio"}) == 0
    assert ended(client, "twilio", "completed") == 1


async def test_an_older_sequence_number_does_not_move_a_call_backwards(client):
    await post_twilio(client, twilio_form("CA12", "in-progress", SequenceNumber="2"))
    late = await post_twilio(client, twilio_form("CA12", "ringing", SequenceNumber="1"))
    assert (await late.json())["status"] == "out_of_order"
    calls = await (await client.get("/telephony/calls/active")).json()
    assert calls["calls"][0]["state"] == "answered"


async def test_a_verified_probe_request_is_not_counted_as_a_call(client):
    response = await post_twilio(client, twilio_form("CAprobe", "completed"),
                                 headers={"X-Callwatch-Probe": "1"})
    assert (await response.json()) == {"status": "probe"}
    assert ended(client, "twilio", "completed") == 0


# -- Telnyx ---------------------------------------------------------------------------------
async def test_a_signed_telnyx_hangup_counts_the_call_and_its_mos(client, telnyx_key):
    await post_telnyx(client, telnyx_key, telnyx_body("call.initiated", "L1", direction="outgoing"))
    await post_telnyx(client, telnyx_key, telnyx_body("call.answered", "L1"))
    assert sample(client, "telephony_calls_active", {"provider": "telnyx"}) == 1
    body = telnyx_body("call.hangup", "L1", hangup_cause="normal_clearing",
                       sip_hangup_cause="200", call_quality_stats={"inbound": {"mos": "4.30"}})
    response = await post_telnyx(client, telnyx_key, body)
    assert (await response.json()) == {"status": "accepted"}
    assert ended(client, "telnyx", "completed") == 1
    assert sample(client, "telephony_call_mos_count", {"provider": "telnyx"}) == 1
    assert sample(client, "telephony_call_mos_sum", {"provider": "telnyx"}) == pytest.approx(4.3)
    assert sample(client, "telephony_calls_active", {"provider": "telnyx"}) == 0


async def test_an_answered_telnyx_call_ending_unspecified_is_dropped(client, telnyx_key):
    await post_telnyx(client, telnyx_key, telnyx_body("call.answered", "L2"))
    await post_telnyx(client, telnyx_key,
                      telnyx_body("call.hangup", "L2", hangup_cause="unspecified"))
    assert ended(client, "telnyx", "dropped", direction="unknown") == 1


async def test_a_telnyx_hangup_with_null_quality_stats_records_no_mos(client, telnyx_key):
    await post_telnyx(client, telnyx_key, telnyx_body(
        "call.hangup", "L3", hangup_cause="user_busy", call_quality_stats=None))
    assert ended(client, "telnyx", "busy", direction="unknown") == 1
    assert sample(client, "telephony_call_mos_count", {"provider": "telnyx"}) == 0


async def test_a_stale_telnyx_webhook_is_forbidden(client, telnyx_key):
    response = await post_telnyx(client, telnyx_key, telnyx_body("call.hangup", "L4"),
                                 timestamp=NOW - 301)
    body = await error_of(response, 403)
    assert "old" in body["detail"]
    assert sample(client, SIG_FAILURES, {"provider": "telnyx"}) == 1


async def test_a_forged_telnyx_body_is_forbidden(client, telnyx_key):
    signed = telnyx_body("call.hangup", "L5", hangup_cause="normal_clearing")
    from callwatch.signatures import telnyx_sign
    headers = telnyx_sign(telnyx_key, signed, int(NOW))
    forged = signed.replace(b"normal_clearing", b"unspecified_xxx")
    response = await client.post("/telephony/webhooks/telnyx", data=forged, headers=headers)
    await error_of(response, 403)
    assert ended(client, "telnyx", "completed", direction="unknown") == 0


async def test_a_telnyx_webhook_signed_by_another_key_is_forbidden(client):
    response = await post_telnyx(client, Ed25519PrivateKey.generate(),
                                 telnyx_body("call.hangup", "L6"))
    await error_of(response, 403)


async def test_an_unsigned_telnyx_webhook_is_forbidden(client):
    response = await client.post("/telephony/webhooks/telnyx", data=b'{"test": true}')
    body = await error_of(response, 403)
    assert "telnyx-signature-ed25519" in body["detail"]


BAD_TELNYX_BODIES = [
    ("a body that is not JSON", b"not json", "not JSON"),
    ("a JSON body without data", b'{"test": true}', "'data'"),
    ("an event without event_type", b'{"data": {"payload": {}}}', "event_type"),
    ("an event without payload", b'{"data": {"event_type": "call.hangup"}}', "payload"),
    ("a hangup without any call id", b'{"data": {"event_type": "call.hangup", "payload": {}}}',
     "call_leg_id"),
    ("a JSON list", b"[1, 2]", "'data'"),
]


@pytest.mark.parametrize("name,body,message", BAD_TELNYX_BODIES,
                         ids=[c[0] for c in BAD_TELNYX_BODIES])
async def test_signed_but_malformed_telnyx_bodies_are_400(client, telnyx_key, name, body, message):
    result = await error_of(await post_telnyx(client, telnyx_key, body), 400)
    assert message in result["detail"]
    assert result["error"] == "malformed_payload"


async def test_a_telnyx_body_over_the_limit_is_a_413(client, telnyx_key):
    body = telnyx_body("call.hangup", "L7", padding="x" * 70_000)
    await error_of(await post_telnyx(client, telnyx_key, body), 413)


async def test_an_unrelated_telnyx_event_is_accepted_and_ignored(client, telnyx_key):
    response = await post_telnyx(client, telnyx_key, telnyx_body("call.dtmf.received", "L8"))
    assert (await response.json()) == {"status": "ignored"}


async def test_duplicate_and_simultaneous_telnyx_hangups_count_once(client, telnyx_key):
    import asyncio
    body = telnyx_body("call.hangup", "L9", hangup_cause="normal_clearing")
    results = await asyncio.gather(*(post_telnyx(client, telnyx_key, body) for _ in range(5)))
    statuses = sorted([(await r.json())["status"] for r in results])
    assert statuses == ["accepted"] + ["duplicate"] * 4
    assert ended(client, "telnyx", "completed", direction="unknown") == 1


async def test_a_bad_telnyx_public_key_makes_readyz_fail_and_the_webhook_503(
        aiohttp_client, policy, clock):
    env = {"TELNYX_PUBLIC_KEY": "bm90LTMyLWJ5dGVz", "CALLWATCH_STATUSPAGE": "off"}
    client = await aiohttp_client(make_app(policy, env, clock))
    response = await client.post("/telephony/webhooks/telnyx", data=b"{}")
    body = await error_of(response, 503)
    assert "32 bytes" in body["detail"]
    ready = await client.get("/readyz")
    assert ready.status == 503


async def test_no_error_body_ever_contains_the_auth_token(client):
    for response in (await client.post("/telephony/webhooks/twilio", data={"a": "b"}),
                     await post_twilio(client, twilio_form("CA13", "completed"), token="bad")):
        assert TWILIO_TOKEN not in await response.text()
