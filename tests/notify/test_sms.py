"""Text pages with the real twilio and telnyx SDKs against the simulator: Twilio first, the
provider the incident is about last, the next provider when one fails."""

from __future__ import annotations

import pytest

from receiver.domain.pages import incident_code
from receiver.notify.base import Notification, NotifyError
from receiver.notify.providers import TelnyxSettings, TwilioSettings
from receiver.notify.sms import SmsNotifier, SmsSettings, TelnyxTexter, TwilioTexter

FROM = "+15005550099"


def note(provider: str | None = "telnyx", recipients=("+15005550001",)) -> Notification:
    return Notification(id="n-1", incident_id="inc-9", channel="sms", kind="trigger",
                        priority="P0", summary="Telephony down", provider=provider,
                        text=f"P0 #{incident_code('inc-9')} Telephony down. Reply ACK",
                        recipients=tuple(recipients))


@pytest.fixture
async def notifier(sim):
    env = sim.env()
    sms = SmsNotifier(SmsSettings(FROM), [
        TwilioTexter(TwilioSettings(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"],
                                    base_url=env["TWILIO_BASE_URL"])),
        TelnyxTexter(TelnyxSettings(env["TELNYX_API_KEY"], "", base_url=env["TELNYX_BASE_URL"],
                                    max_retries=0))])
    yield sms
    await sms.close()


async def test_a_text_page_goes_through_twilio_with_its_rendered_text(sim, notifier):
    delivery = await notifier.send(note())
    [sent] = sim.sms_messages()
    code = incident_code("inc-9")
    assert (sent.provider, sent.to, sent.from_, delivery.via) == (
        "twilio", "+15005550001", FROM, "twilio")
    assert sent.text == f"P0 #{code} Telephony down. Reply ACK"
    assert delivery.ref == sent.id and sent.id.startswith("SM")


async def test_an_incident_about_twilio_is_texted_through_telnyx(sim, notifier):
    delivery = await notifier.send(note(provider="twilio"))
    assert [m.provider for m in sim.sms_messages()] == ["telnyx"]
    assert delivery.via == "telnyx"


async def test_when_twilio_fails_the_text_goes_through_telnyx(sim, notifier):
    sim.fail("twilio", 500, count=5)
    delivery = await notifier.send(note())
    assert (delivery.via, [m.provider for m in sim.sms_messages()]) == ("telnyx", ["telnyx"])


async def test_when_every_provider_fails_the_error_is_retryable_and_names_both(sim, notifier):
    sim.fail("twilio", 503, count=10)
    sim.fail("telnyx", 503, count=10)
    with pytest.raises(NotifyError) as caught:
        await notifier.send(note())
    assert caught.value.retryable and "twilio" in caught.value.detail \
        and "telnyx" in caught.value.detail
