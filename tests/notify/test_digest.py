"""The daily digest: when it is due (DST, midnight) and one email with the combined list."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from receiver.domain.times import next_local_time
from receiver.notify.base import Notification, NotifyError
from receiver.notify.digest import DigestNotifier, DigestSettings
from receiver.notify.email import SmtpSettings
from tests.notify.standins import SmtpSink

UTC = dt.UTC


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("name", "now", "send_at", "zone", "expected"), [
    ("before the send time it is due later the same day",
     utc(2026, 6, 1, 8, 0), "09:00", "UTC", utc(2026, 6, 1, 9, 0)),
    ("exactly at the send time the next one is tomorrow",
     utc(2026, 6, 1, 9, 0), "09:00", "UTC", utc(2026, 6, 2, 9, 0)),
    ("just before midnight a 00:05 digest is six minutes away",
     utc(2026, 6, 1, 23, 59), "00:05", "UTC", utc(2026, 6, 2, 0, 5)),
    ("local time decides the day: 23:30 New York is already tomorrow in UTC",
     utc(2026, 6, 2, 3, 30), "09:00", "America/New_York", utc(2026, 6, 2, 13, 0)),
    ("across spring forward 09:00 New York moves from 14:00 to 13:00 UTC",
     utc(2026, 3, 7, 15, 0), "09:00", "America/New_York", utc(2026, 3, 8, 13, 0)),
    ("across fall back 09:00 New York moves from 13:00 to 14:00 UTC",
     utc(2026, 10, 31, 14, 0), "09:00", "America/New_York", utc(2026, 11, 1, 14, 0)),
    ("a send time inside the spring-forward gap fires when the clock would have shown it",
     utc(2026, 3, 8, 5, 0), "02:30", "America/New_York", utc(2026, 3, 8, 7, 30)),
    ("a send time repeated at fall back fires once, at its first occurrence",
     utc(2026, 11, 1, 5, 0), "01:30", "America/New_York", utc(2026, 11, 1, 5, 30)),
    ("after the first occurrence of a repeated time the next digest is the following day",
     utc(2026, 11, 1, 5, 45), "01:30", "America/New_York", utc(2026, 11, 2, 6, 30)),
])
def test_next_local_time(name, now, send_at, zone, expected):
    result = next_local_time(now, send_at, zone)
    assert result == expected and result > now
    assert result.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("now", "send_at", "zone", "message"), [
    (dt.datetime(2026, 1, 1), "09:00", "UTC", "aware"),
    (utc(2026, 1, 1), "9:00", "UTC", "HH:MM"),
    (utc(2026, 1, 1), "24:00", "UTC", "HH:MM"),
    (utc(2026, 1, 1), "09:00", "Mars/Olympus", "timezone"),
])
def test_bad_input_to_next_local_time_is_a_value_error_naming_the_problem(
        now, send_at, zone, message):
    with pytest.raises(ValueError, match=message):
        next_local_time(now, send_at, zone)


def digest_note(kind: str = "digest") -> Notification:
    return Notification(
        id="d-1", incident_id="digest-2026-06-01", channel="digest", kind=kind, priority="P3",
        summary="3 P3 notifications", text="- inc-1 MOS low\n- inc-2 latency\n- inc-3 drops",
        html="<ul><li>inc-1</li><li>inc-2</li><li>inc-3</li></ul>",
        recipients=("someone-else@example.com",))


async def test_the_digest_is_one_email_to_the_digest_list_holding_every_item(smtp_server):
    sink = SmtpSink()
    smtp = SmtpSettings("127.0.0.1", smtp_server(sink), "callwatch@example.com",
                        ("oncall@example.com",))
    notifier = DigestNotifier(DigestSettings(smtp, ("team@example.com",), "09:00", "UTC"))
    delivery = await notifier.send(digest_note())
    (_mail_from, rcpt, raw) = sink.messages[0]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert len(sink.messages) == 1 and rcpt == ["team@example.com"]
    assert message["Message-ID"] == delivery.ref
    assert message["Subject"].startswith("[callwatch digest]")
    body = message.get_body(("plain",)).get_content()
    assert all(item in body for item in ("inc-1", "inc-2", "inc-3"))
    assert message.get_body(("html",)) is not None


async def test_a_single_p3_trigger_is_refused_by_the_digest_channel(smtp_server):
    sink = SmtpSink()
    smtp = SmtpSettings("127.0.0.1", smtp_server(sink), "callwatch@example.com", ())
    with pytest.raises(NotifyError) as caught:
        await DigestNotifier(DigestSettings(smtp, ("team@example.com",), "09:00",
                                            "UTC")).send(digest_note("trigger"))
    assert (caught.value.reason, caught.value.retryable) == ("config", False)
    assert sink.messages == []
