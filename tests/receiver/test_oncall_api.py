"""``GET /oncall``, ``/oncall/{schedule}/shifts`` and the ``.ics`` feed, on a receiver whose
policy holds known schedules and whose clock reads 2027-01-15T08:00:00Z (a Friday, 09:00 in
Berlin).

``primary`` (Europe/Berlin): a weekly layer from Monday 2027-01-04 09:00 local, eng_a, eng_b,
eng_c in turn: eng_a 01-04..01-11, eng_b 01-11..01-18, eng_c 01-18..01-25, ... (08:00Z in
winter, 07:00Z once summer time starts on 2027-03-28). ``secondary`` (UTC) starts only on
2027-02-01: a gap before that.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from policy.model import Schedule, ScheduleLayer, ScheduleOverride
from tests.receiver.conftest import auth

WEEKLY = ScheduleLayer("weekly", datetime(2027, 1, 4, 9, 0), timedelta(weeks=1),
                       ("eng_a", "eng_b", "eng_c"))
PRIMARY = Schedule("primary", "Europe/Berlin", (WEEKLY,))
SECONDARY = Schedule("secondary", "UTC", (ScheduleLayer(
    "daily", datetime(2027, 2, 1, 0, 0), timedelta(days=1), ("eng_a",)),))
# eng_c covers Friday 2027-01-15, midnight to midnight Berlin time (23:00Z to 23:00Z)
SWAP = ScheduleOverride("eng_c", datetime(2027, 1, 15, 0, 0), datetime(2027, 1, 16, 0, 0))


def with_schedules(policy, *schedules: Schedule):
    return dataclasses.replace(policy, schedules={s.name: s for s in schedules})


@pytest.fixture
def oncall_client(make_client, policy):
    async def make(*schedules: Schedule):
        return await make_client(policy=with_schedules(policy, *(schedules or (PRIMARY,
                                                                              SECONDARY))))
    return make


async def get_json(client, path, status=200, **params):
    response = await client.get(path, params=params)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


# -- GET /oncall ----------------------------------------------------------------------------
async def test_who_is_on_call_now_in_every_schedule_with_the_bounds_of_the_stretch(
        oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall")
    assert body == {"at": "2027-01-15T08:00:00.000Z", "schedules": {
        "primary": {"contact": "eng_b", "name": "Ben Okafor", "layer": "weekly",
                    "since": "2027-01-11T08:00:00.000Z", "until": "2027-01-18T08:00:00.000Z"},
        # nobody before the layer starts; the gap began more than 90 days ago: since null
        "secondary": {"contact": None, "name": None, "layer": None,
                      "since": None, "until": "2027-02-01T00:00:00.000Z"},
    }}


async def test_at_asks_about_another_instant_in_any_offset(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall", at="2027-01-18T09:00:00+01:00", schedule="primary")
    assert body["at"] == "2027-01-18T08:00:00.000Z"
    assert body["schedules"] == {"primary": {
        "contact": "eng_c", "name": "Chloe Martin", "layer": "weekly",
        "since": "2027-01-18T08:00:00.000Z", "until": "2027-01-25T08:00:00.000Z"}}


async def test_a_plus_sent_unencoded_arrives_as_a_space_and_is_read_as_the_offset(
        oncall_client):
    client = await oncall_client()
    response = await client.get("/oncall?schedule=primary&at=2027-01-18T08:59:59 01:00")
    body = await response.json()
    assert response.status == 200 and body["at"] == "2027-01-18T07:59:59.000Z"
    assert body["schedules"]["primary"]["contact"] == "eng_b"


async def test_the_default_instant_is_the_receivers_clock(oncall_client, clock):
    client = await oncall_client()
    clock.advance(3 * 86400)  # 2027-01-18T08:00:00Z: the handoff itself
    body = await get_json(client, "/oncall", schedule="primary")
    assert body["schedules"]["primary"]["contact"] == "eng_c"
    assert body["schedules"]["primary"]["since"] == "2027-01-18T08:00:00.000Z"


async def test_an_override_wins_over_the_layer(oncall_client):
    client = await oncall_client(dataclasses.replace(PRIMARY, overrides=(SWAP,)))
    body = await get_json(client, "/oncall")
    assert body["schedules"] == {"primary": {
        "contact": "eng_c", "name": "Chloe Martin", "layer": "override",
        "since": "2027-01-14T23:00:00.000Z", "until": "2027-01-15T23:00:00.000Z"}}


@pytest.mark.parametrize("path", ["/oncall", "/oncall/primary/shifts",
                                  "/oncall/primary.ics?contact=eng_a"])
async def test_oncall_needs_the_credentials(make_client, policy, path):
    client = await make_client(policy=with_schedules(policy, PRIMARY), anonymous=True)
    response = await client.get(path, headers={"Authorization": "Bearer wrong"})
    assert (response.status, (await response.json())["error"]) == (401, "unauthorized")
    assert (await client.get(path, headers=auth())).status == 200


# -- GET /oncall/{schedule}/shifts ----------------------------------------------------------
async def test_shifts_in_a_window_clipped_to_it(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall/primary/shifts",
                          **{"from": "2027-01-10T00:00:00Z", "to": "2027-01-20T00:00:00Z"})
    assert body == {"schedule": "primary", "timezone": "Europe/Berlin",
                    "from": "2027-01-10T00:00:00.000Z", "to": "2027-01-20T00:00:00.000Z",
                    "shifts": [
        {"contact": "eng_a", "name": "Ana Weber", "layer": "weekly",
         "start": "2027-01-10T00:00:00.000Z", "end": "2027-01-11T08:00:00.000Z"},
        {"contact": "eng_b", "name": "Ben Okafor", "layer": "weekly",
         "start": "2027-01-11T08:00:00.000Z", "end": "2027-01-18T08:00:00.000Z"},
        {"contact": "eng_c", "name": "Chloe Martin", "layer": "weekly",
         "start": "2027-01-18T08:00:00.000Z", "end": "2027-01-20T00:00:00.000Z"}]}


async def test_shifts_default_to_the_next_14_days(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall/primary/shifts")
    assert (body["from"], body["to"]) == ("2027-01-15T08:00:00.000Z", "2027-01-29T08:00:00.000Z")
    assert [(s["contact"], s["start"], s["end"]) for s in body["shifts"]] == [
        ("eng_b", "2027-01-15T08:00:00.000Z", "2027-01-18T08:00:00.000Z"),
        ("eng_c", "2027-01-18T08:00:00.000Z", "2027-01-25T08:00:00.000Z"),
        ("eng_a", "2027-01-25T08:00:00.000Z", "2027-01-29T08:00:00.000Z")]


async def test_only_from_given_runs_14_days_from_it(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall/primary/shifts", **{"from": "2027-03-01T00:00:00Z"})
    assert body["to"] == "2027-03-15T00:00:00.000Z"


async def test_an_override_splits_the_week_it_falls_in(oncall_client):
    client = await oncall_client(dataclasses.replace(PRIMARY, overrides=(SWAP,)))
    body = await get_json(client, "/oncall/primary/shifts",
                          **{"from": "2027-01-11T08:00:00Z", "to": "2027-01-18T08:00:00Z"})
    assert [(s["contact"], s["layer"], s["start"], s["end"]) for s in body["shifts"]] == [
        ("eng_b", "weekly", "2027-01-11T08:00:00.000Z", "2027-01-14T23:00:00.000Z"),
        ("eng_c", "override", "2027-01-14T23:00:00.000Z", "2027-01-15T23:00:00.000Z"),
        ("eng_b", "weekly", "2027-01-15T23:00:00.000Z", "2027-01-18T08:00:00.000Z")]


async def test_a_gap_is_a_shift_with_nobody(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall/secondary/shifts",
                          **{"from": "2027-01-31T00:00:00Z", "to": "2027-02-02T00:00:00Z"})
    assert body["timezone"] == "UTC"
    assert body["shifts"] == [
        {"contact": None, "name": None, "layer": None,
         "start": "2027-01-31T00:00:00.000Z", "end": "2027-02-01T00:00:00.000Z"},
        {"contact": "eng_a", "name": "Ana Weber", "layer": "daily",
         "start": "2027-02-01T00:00:00.000Z", "end": "2027-02-02T00:00:00.000Z"}]


async def test_exactly_90_days_is_allowed(oncall_client):
    client = await oncall_client()
    body = await get_json(client, "/oncall/primary/shifts",
                          **{"from": "2027-01-04T08:00:00Z", "to": "2027-04-04T08:00:00Z"})
    assert body["shifts"][0]["start"] == "2027-01-04T08:00:00.000Z"
    assert body["shifts"][-1]["end"] == "2027-04-04T08:00:00.000Z"
    assert len(body["shifts"]) == 13  # twelve full weeks and a bit, DST-shifted at the end


# -- the errors: always the one JSON shape, never a 500 --------------------------------------
BAD = [
    ("/oncall", {"at": "yesterday"}, 400, "invalid_request", "at", "not an ISO 8601 time"),
    ("/oncall", {"at": "2027-01-15T09:00:00"}, 400, "invalid_request", "at", "no UTC offset"),
    ("/oncall", {"at": "2027-01-15"}, 400, "invalid_request", "at", "no UTC offset"),
    ("/oncall", {"at": "9999-12-31T23:00:00Z"}, 400, "invalid_request", "at", "before 9000"),
    ("/oncall", {"schedule": "tertiary"}, 404, "not_found", None, "no schedule named"),
    ("/oncall/tertiary/shifts", {}, 404, "not_found", None, "no schedule named 'tertiary'"),
    ("/oncall/primary/shifts", {"from": "2027-13-01T00:00:00Z"}, 400, "invalid_request",
     "from", "not an ISO 8601 time"),
    ("/oncall/primary/shifts", {"to": "2027-02-01T00:00"}, 400, "invalid_request", "to",
     "no UTC offset"),
    ("/oncall/primary/shifts", {"from": "2027-02-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"},
     400, "invalid_request", "to", "must be after from (2027-02-01T00:00:00.000Z)"),
    ("/oncall/primary/shifts", {"from": "2027-02-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
     400, "invalid_request", "to", "must be after from"),
    ("/oncall/primary/shifts", {"to": "2027-01-01T00:00:00Z"},  # before now, the default from
     400, "invalid_request", "to", "must be after from (2027-01-15T08:00:00.000Z)"),
    ("/oncall/primary/shifts", {"from": "2027-01-01T00:00:00Z", "to": "2027-04-01T00:00:01Z"},
     400, "invalid_request", "to", "at most 90 days from `from` per request, asked for 90.00"),
    ("/oncall/primary/shifts", {"from": "2027-01-01T00:00:00Z", "to": "2028-01-01T00:00:00Z"},
     400, "invalid_request", "to", "at most 90 days from `from` per request, asked for 365 days"),
    ("/oncall/primary.ics", {}, 400, "invalid_request", "contact", "required"),
    ("/oncall/primary.ics", {"contact": "eng_z"}, 404, "not_found", None,
     "no contact named 'eng_z'"),
    ("/oncall/tertiary.ics", {"contact": "eng_a"}, 404, "not_found", None,
     "no schedule named 'tertiary'"),
]


@pytest.mark.parametrize(("path", "params", "status", "code", "field", "detail"), BAD,
                         ids=[f"{p} {q}" for p, q, *_ in BAD])
async def test_bad_input_is_a_json_4xx(oncall_client, path, params, status, code, field, detail):
    client = await oncall_client()
    body = await get_json(client, path, status, **params)
    assert body["error"] == code
    assert body.get("field") == field
    assert detail in body["detail"]


# -- GET /oncall/{schedule}.ics -------------------------------------------------------------
async def feed(client, schedule="primary", contact="eng_a"):
    response = await client.get(f"/oncall/{schedule}.ics", params={"contact": contact})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(await response.read())


def events(calendar) -> list[tuple[str, datetime, datetime]]:
    return [(str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"))
            for e in calendar.walk("VEVENT")]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def test_the_feed_lists_the_contacts_shifts_from_30_days_ago_to_90_ahead(oncall_client):
    client = await oncall_client()
    calendar = await feed(client)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["X-WR-CALNAME"]) == (
        "On call: primary (Ana Weber)")
    summary = "On call: primary (weekly)"
    # the window is 2026-12-16T08:00Z .. 2027-04-15T08:00Z; the layer starts 2027-01-04
    assert events(calendar) == [
        (summary, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8)),
        (summary, utc(2027, 1, 25, 8), utc(2027, 2, 1, 8)),
        (summary, utc(2027, 2, 15, 8), utc(2027, 2, 22, 8)),
        (summary, utc(2027, 3, 8, 8), utc(2027, 3, 15, 8)),
        (summary, utc(2027, 3, 29, 7), utc(2027, 4, 5, 7)),  # 09:00 summer time in Berlin
    ]
    for event in calendar.walk("VEVENT"):
        assert event.decoded("DTSTAMP") == utc(2027, 1, 15, 8)
        assert event.decoded("DTSTART").tzinfo is not None  # UTC times, not floating ones
    raw = (await (await client.get("/oncall/primary.ics?contact=eng_a")).read()).decode()
    assert "DTSTART:20270104T080000Z\r\n" in raw


async def test_shifts_at_the_windows_edges_keep_their_true_bounds(oncall_client, clock):
    client = await oncall_client()
    # eng_c's last shift, 04-12..04-19, runs past the window's end (2027-04-15T08:00Z)
    assert events(await feed(client, contact="eng_c"))[-1][1:] == (utc(2027, 4, 12, 7),
                                                                   utc(2027, 4, 19, 7))
    clock.advance(30 * 86400)  # now 2027-02-14: the window opens on 01-15, inside eng_b's week
    assert events(await feed(client, contact="eng_b"))[0][1:] == (utc(2027, 1, 11, 8),
                                                                  utc(2027, 1, 18, 8))


async def test_uids_are_unique_and_stable_as_the_window_slides(oncall_client, clock):
    client = await oncall_client()
    before = {str(e["UID"]): e.decoded("DTSTART") for e in (await feed(client)).walk("VEVENT")}
    clock.advance(7 * 86400)  # the window now reaches 2027-04-22: eng_a's 04-19 shift joins
    after = {str(e["UID"]): e.decoded("DTSTART") for e in (await feed(client)).walk("VEVENT")}
    assert len(before) == 5 and len(after) == 6
    assert before["primary.eng_a.20270125T080000Z@callwatch"] == utc(2027, 1, 25, 8)
    assert {uid: after[uid] for uid in before} == before
    assert after["primary.eng_a.20270419T070000Z@callwatch"] == utc(2027, 4, 19, 7)
    other = {str(e["UID"]) for e in (await feed(client, contact="eng_b")).walk("VEVENT")}
    assert not other & set(before)


async def test_an_override_is_its_own_event(oncall_client):
    client = await oncall_client(dataclasses.replace(PRIMARY, overrides=(SWAP,)))
    found = events(await feed(client, contact="eng_c"))
    assert ("On call: primary (override)", utc(2027, 1, 14, 23), utc(2027, 1, 15, 23)) in found
    ben = events(await feed(client, contact="eng_b"))
    assert ben[0][1:] == (utc(2027, 1, 11, 8), utc(2027, 1, 14, 23))
    assert ben[1][1:] == (utc(2027, 1, 15, 23), utc(2027, 1, 18, 8))


async def test_a_contact_in_no_rotation_gets_an_empty_calendar(oncall_client):
    client = await oncall_client()
    calendar = await feed(client, contact="team_lead")
    assert events(calendar) == [] and str(calendar["PRODID"]).startswith("-//callwatch//")
