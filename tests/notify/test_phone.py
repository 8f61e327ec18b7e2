"""Phone pages with the real twilio and telnyx SDKs against the simulator: Twilio first, Telnyx
as fallback, and the Telnyx script spoken on ``call.answered``."""

from __future__ import annotations

import pytest
import telnyx

from receiver.notify.base import Notification, NotifyError
from receiver.notify.phone import (
    PhoneNotifier,
    PhoneSettings,
    TelnyxDialer,
    TwilioDialer,
    decode_client_state,
    speak_on_answer,
    twiml,
)
from receiver.notify.providers import TelnyxSettings, TwilioSettings

FROM = "+15005550006"


def note(provider: str | None = "telnyx", recipients=("+15005550001",),
         summary: str = "Call drop rate critical on telnyx") -> Notification:
    return Notification(id="n-1", incident_id="inc-9", channel="phone", kind="trigger",
                        priority="P0", summary=summary, text="", provider=provider,
                        recipients=tuple(recipients))


@pytest.fixture
async def notifier(sim):
    env = sim.env()
    phone = PhoneNotifier(PhoneSettings(FROM), [
        TwilioDialer(TwilioSettings(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"],
                                    base_url=env["TWILIO_BASE_URL"])),
        TelnyxDialer(TelnyxSettings(env["TELNYX_API_KEY"], env["TELNYX_CONNECTION_ID"],
                                    base_url=env["TELNYX_BASE_URL"], max_retries=0))])
    yield phone
    await phone.close()


async def test_a_page_is_a_twilio_call_whose_twiml_reads_the_summary(sim, notifier):
    delivery = await notifier.send(note())
    assert delivery.via == "twilio"
    (placed,) = sim.state.placed_calls()
    assert placed["provider"] == "twilio" and placed["id"] == delivery.ref
    (request,) = [r for r in sim.requests("twilio") if r.method == "POST"]
    assert request.path == f"/2010-04-01/Accounts/{sim.twilio_account_sid}/Calls.json"
    assert request.form["To"] == "+15005550001" and request.form["From"] == FROM
    assert "<Say>" in request.form["Twiml"]
    assert "Call drop rate critical on telnyx" in request.form["Twiml"]


async def test_when_twilio_answers_500_the_call_goes_through_telnyx(sim, notifier):
    sim.fail("twilio", 500)
    delivery = await notifier.send(note())
    assert delivery.via == "telnyx"
    (placed,) = sim.state.placed_calls()
    assert placed["provider"] == "telnyx" and placed["id"] == delivery.ref
    assert placed["request"]["connection_id"] == sim.env()["TELNYX_CONNECTION_ID"]
    assert placed["request"]["to"] == "+15005550001"
    state = decode_client_state(placed["request"]["client_state"])
    assert "Call drop rate critical on telnyx" in state["say"] and state["incident"] == "inc-9"


async def test_an_incident_about_twilio_is_called_through_telnyx_without_trying_twilio(
        sim, notifier):
    delivery = await notifier.send(note(provider="twilio", summary="Twilio is down"))
    assert delivery.via == "telnyx"
    assert sim.requests("twilio") == [] and len(sim.state.placed_calls("telnyx")) == 1


async def test_the_telnyx_script_is_spoken_when_the_call_is_answered(sim, notifier):
    delivery = await notifier.send(note(provider="twilio", summary="Twilio is down"))
    (placed,) = sim.state.placed_calls("telnyx")
    client = telnyx.AsyncTelnyx(api_key=sim.telnyx_api_key, base_url=sim.env()["TELNYX_BASE_URL"])
    spoken = await speak_on_answer(client, delivery.ref, placed["request"]["client_state"])
    assert await speak_on_answer(client, delivery.ref, "bm90IG91cnM=") is False
    await client.close()
    (action,) = placed["actions"]
    assert spoken and action["action"] == "speak"
    assert "Twilio is down" in action["body"]["payload"]


async def test_when_every_provider_fails_the_error_is_retryable_and_names_both(sim, notifier):
    sim.fail("twilio", 503)
    sim.fail("telnyx", 503)
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert caught.value.retryable and caught.value.reason == "server_error"
    assert "twilio" in caught.value.detail and "telnyx" in caught.value.detail


async def test_a_recipient_that_is_not_a_phone_number_is_a_config_error(notifier):
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note(recipients=("oncall@example.com",)))
    assert (caught.value.reason, caught.value.retryable) == ("config", False)


async def test_every_recipient_is_called(sim, notifier):
    delivery = await notifier.send(note(recipients=("+15005550001", "+15005550002")))
    assert len(delivery.ref.split(",")) == 2
    assert sorted(p["request"]["To"] for p in sim.state.placed_calls("twilio")) == [
        "+15005550001", "+15005550002"]


def test_twiml_escapes_xml_in_the_summary():
    xml = twiml('Drop rate <critical> & "rising" on A&B')
    assert "<critical>" not in xml and "&lt;critical&gt; &amp; &quot;rising&quot;" in xml
    assert xml.startswith("<Response><Say>") and xml.endswith("</Say></Response>")
