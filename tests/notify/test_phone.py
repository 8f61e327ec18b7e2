"""Phone pages with the real twilio and telnyx SDKs over HTTP: Twilio first, Telnyx as fallback."""

from __future__ import annotations

import pytest

from receiver.notify.base import Notification, NotifyError
from receiver.notify.phone import (
    PhoneNotifier, TelnyxDialer, TwilioDialer, decode_client_state, twiml,
)
from tests.notify.standins import StandIn, telnyx_app, twilio_app

SID, AUTH_TOKEN, TELNYX_KEY = "AC" + "1" * 32, "twilio-auth-token-secret", "KEYtelnyx-secret-0001"
FROM = "+15005550006"


def note(provider: str | None = "telnyx", recipients=("+15005550001",),
         summary: str = "Call drop rate critical on telnyx") -> Notification:
    return Notification(id="n-1", incident_id="inc-9", channel="phone", kind="trigger",
                        priority="P0", summary=summary, text="", provider=provider,
                        recipients=tuple(recipients))


@pytest.fixture
async def providers(serve):
    twilio, telnyx = StandIn(), StandIn()
    twilio_url, telnyx_url = await serve(twilio_app(twilio)), await serve(telnyx_app(telnyx))
    notifier = PhoneNotifier(FROM, [
        TwilioDialer(SID, AUTH_TOKEN, base_url=twilio_url),
        TelnyxDialer(TELNYX_KEY, "conn-123", base_url=f"{telnyx_url}/v2", max_retries=0)])
    yield twilio, telnyx, notifier
    await notifier.close()


async def test_a_page_is_a_twilio_call_whose_twiml_reads_the_summary(providers):
    twilio, telnyx, notifier = providers
    delivery = await notifier.send(note())
    assert delivery.via == "twilio" and delivery.ref.startswith("CA")
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert request.body["To"] == "+15005550001" and request.body["From"] == FROM
    assert "<Say>" in request.body["Twiml"] and "Call drop rate critical on telnyx" in request.body["Twiml"]
    assert telnyx.requests == []


async def test_when_twilio_answers_500_the_call_goes_through_telnyx(providers):
    twilio, telnyx, notifier = providers
    twilio.failures.append((500, {"code": 20500, "message": "Internal Server Error", "status": 500}))
    delivery = await notifier.send(note())
    assert delivery.via == "telnyx" and delivery.ref.startswith("v3:")
    (request,) = telnyx.requests
    assert request.path == "/v2/calls"
    assert request.body["connection_id"] == "conn-123" and request.body["to"] == "+15005550001"
    assert request.headers["Authorization"] == f"Bearer {TELNYX_KEY}"
    state = decode_client_state(request.body["client_state"])
    assert "Call drop rate critical on telnyx" in state["say"] and state["incident"] == "inc-9"


async def test_an_incident_about_twilio_is_called_through_telnyx_without_trying_twilio(providers):
    twilio, telnyx, notifier = providers
    delivery = await notifier.send(note(provider="twilio", summary="Twilio is down"))
    assert delivery.via == "telnyx"
    assert twilio.requests == [] and len(telnyx.requests) == 1


async def test_when_every_provider_fails_the_error_is_retryable_and_names_both(providers):
    twilio, telnyx, notifier = providers
    twilio.failures.append((503, {"code": 20503, "message": "down", "status": 503}))
    telnyx.failures.append((503, {"errors": [{"code": "90000", "title": "down"}]}))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert caught.value.retryable and caught.value.reason == "server_error"
    assert "twilio" in caught.value.detail and "telnyx" in caught.value.detail


async def test_a_recipient_that_is_not_a_phone_number_is_a_config_error(providers):
    _, _, notifier = providers
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note(recipients=("oncall@example.com",)))
    assert (caught.value.reason, caught.value.retryable) == ("config", False)


def test_twiml_escapes_xml_in_the_summary():
    xml = twiml('Drop rate <critical> & "rising" on A&B')
    assert "<critical>" not in xml and "&lt;critical&gt; &amp; &quot;rising&quot;" in xml
    assert xml.startswith("<Response><Say>") and xml.endswith("</Say></Response>")
