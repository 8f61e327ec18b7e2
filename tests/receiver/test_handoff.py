"""Handoff notices as pure logic (receiver.domain.handoff): which handoffs a check owes, to
whom and by which channel, and the words. Also where policy gap warnings are worded
(policy.schedule_checks).

The schedule ``primary`` (Europe/Berlin, CET = UTC+1 in January) rotates weekly at Monday
09:00 local from 2027-01-04 through Ana (Slack), the engineering manager (email only) and Pat
(a phone, nothing else); ``nights`` has Ben (Slack) from 2027-01-04 09:00 too, but only
22:00-06:00 local.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from policy.model import Contact, Restriction, Schedule, ScheduleLayer, ScheduleOverride
from policy.schedule_checks import local_time, schedule_warnings
from receiver.domain import handoff
from receiver.domain.model import Incident, MessageKind

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = timedelta(weeks=1)
PAT = Contact("pat", "Pat Phone", phone="+15005550042", methods=("phone",))


def local(*fields: int) -> float:
    """A Europe/Berlin wall-clock time as Unix seconds."""
    return datetime(*fields, tzinfo=BERLIN).timestamp()


def schedules(*, overrides: tuple[ScheduleOverride, ...] = ()) -> dict[str, Schedule]:
    weekly = ScheduleLayer("weekly", datetime(2027, 1, 4, 9, 0), WEEK,
                           ("eng_a", "engineering_manager", "pat"))
    nights = ScheduleLayer("nights", datetime(2027, 1, 4, 9, 0), WEEK, ("eng_b",),
                           (Restriction(tuple(range(7)), 22 * 60, 6 * 60),))
    return {"primary": Schedule("primary", "Europe/Berlin", (weekly,), overrides),
            "nights": Schedule("nights", "Europe/Berlin", (nights,))}


@pytest.fixture
def oncall(policy):
    """The deploy policy with the schedules above and Pat among the contacts (and its file
    named relative to the repository, as the warnings quote it)."""
    return dataclasses.replace(policy, schedules=schedules(),
                               contacts={**policy.contacts, "pat": PAT},
                               source="deploy/policy.yaml")


def incident(id: str, priority: str = "P1", state: str = "triggered", summary: str = "drops",
             opened_at: float = 0.0) -> Incident:
    return Incident(id=id, group_key=id, priority=priority, state=state, summary=summary,
                    provider="twilio", opened_at=opened_at)


def told(notices: list[handoff.Notice]) -> list[tuple[str, str, str | None]]:
    return [(n.schedule, n.contact, n.channel) for n in notices]


# (previous check, now) -> the notices due: (schedule, contact, channel)
WHO = [
    pytest.param(local(2027, 1, 4, 8, 59, 30), local(2027, 1, 4, 9, 0, 0),
                 [("primary", "eng_a", "slack")],
                 id="a person taking over from nobody is told, on Slack when they have it"),
    pytest.param(local(2027, 1, 11, 8, 59, 30), local(2027, 1, 11, 9, 0, 0),
                 [("primary", "engineering_manager", "email")],
                 id="a person without Slack is told by email"),
    pytest.param(local(2027, 1, 18, 8, 59, 30), local(2027, 1, 18, 9, 0, 0),
                 [("primary", "pat", None)],
                 id="a person with neither Slack nor email is due but unreachable"),
    pytest.param(local(2027, 1, 4, 9, 0, 0), local(2027, 1, 4, 9, 0, 30), [],
                 id="a handoff at the previous check was that check's and is not told again"),
    pytest.param(local(2027, 1, 4, 21, 59, 30), local(2027, 1, 4, 22, 0, 0),
                 [("nights", "eng_b", "slack")],
                 id="each night's start is a handoff from nobody"),
    pytest.param(local(2027, 1, 5, 5, 59, 30), local(2027, 1, 5, 6, 0, 0), [],
                 id="a night's end hands over to nobody and tells nobody"),
    pytest.param(local(2027, 1, 4, 8, 0), local(2027, 1, 11, 10, 0),
                 [("primary", "engineering_manager", "email")],
                 id="after a long silence only the shifts still running are told"),
    pytest.param(None, local(2027, 1, 12, 12, 0), [("primary", "engineering_manager", "email")],
                 id="at start-up a running shift that began days ago is told late"),
    pytest.param(None, local(2027, 1, 4, 8, 0), [],
                 id="at start-up before any layer starts nobody is on call and nobody is told"),
    pytest.param(None, local(2027, 1, 5, 23, 0),
                 [("nights", "eng_b", "slack"), ("primary", "eng_a", "slack")],
                 id="at start-up every schedule's running shift is told, by schedule name"),
    pytest.param(local(2026, 6, 1, 0, 0), local(2027, 1, 12, 12, 0),
                 [("primary", "engineering_manager", "email")],
                 id="a previous check further back than the search reach looks back 90 days"),
]


@pytest.mark.parametrize(("since", "now", "expected"), WHO)
def test_the_notices_due(oncall, since, now, expected) -> None:
    assert told(handoff.notices_due(oncall, since, now, [])) == expected


def test_a_person_staying_on_call_through_an_override_of_their_own_is_not_told(oncall) -> None:
    own = ScheduleOverride("eng_a", datetime(2027, 1, 6, 12, 0), datetime(2027, 1, 7, 12, 0))
    policy = dataclasses.replace(oncall, schedules={"primary": schedules(
        overrides=(own,))["primary"]})
    assert handoff.notices_due(policy, local(2027, 1, 6, 11, 59), local(2027, 1, 6, 12, 1),
                               []) == []
    swap = ScheduleOverride("eng_c", datetime(2027, 1, 6, 12, 0), datetime(2027, 1, 7, 12, 0))
    policy = dataclasses.replace(oncall, schedules={"primary": schedules(
        overrides=(swap,))["primary"]})
    [notice] = handoff.notices_due(policy, local(2027, 1, 6, 11, 59), local(2027, 1, 6, 12, 1),
                                   [])
    assert (notice.contact, notice.start, notice.end) == (
        "eng_c", local(2027, 1, 6, 12, 0), local(2027, 1, 7, 12, 0))
    # and Ana, back at the override's end, is told she is on call again
    [back] = handoff.notices_due(policy, local(2027, 1, 7, 11, 59), local(2027, 1, 7, 12, 1), [])
    assert (back.contact, back.end) == ("eng_a", local(2027, 1, 11, 9, 0))


# the channels a policy has, a person's addresses -> the channel chosen
CHANNELS = [
    pytest.param(("slack", "email"), "@ana", "ana@example.com", ("slack", ("@ana",)),
                 id="slack wins over email"),
    pytest.param(("email",), "@ana", "ana@example.com", ("email", ("ana@example.com",)),
                 id="a slack handle without a slack channel falls to email"),
    pytest.param(("slack",), None, "ana@example.com", (None, ()),
                 id="an email address without an email channel reaches nobody"),
    pytest.param(("slack", "email"), None, None, (None, ()),
                 id="a person with neither reaches nobody"),
]


@pytest.mark.parametrize(("kept", "slack", "email", "expected"), CHANNELS)
def test_where_a_notice_goes(oncall, kept, slack, email, expected) -> None:
    policy = dataclasses.replace(
        oncall, channels={name: spec for name, spec in oncall.channels.items()
                          if spec.type in kept},
        contacts={**oncall.contacts, "eng_a": dataclasses.replace(
            oncall.contacts["eng_a"], slack=slack, email=email)})
    assert handoff.reach(policy, "eng_a") == expected


def test_the_words_name_the_schedule_the_local_end_and_the_open_incidents_most_urgent_first(
        oncall) -> None:
    incidents = [incident("inc-p2", "P2", summary="jitter high", opened_at=1.0),
                 incident("inc-done", "P0", "resolved", summary="over"),
                 incident("inc-p1-late", "P1", "acknowledged", summary="drops <b>", opened_at=3.0),
                 incident("inc-p1", "P1", summary="calls fail & retry", opened_at=2.0)]
    [notice] = handoff.notices_due(oncall, local(2027, 1, 11, 8, 59), local(2027, 1, 11, 9, 0),
                                   incidents, "https://cw.example/")
    assert notice.summary == ("You are on call for primary until Mon 18 Jan 2027 09:00 CET "
                              "(Europe/Berlin).")
    assert notice.text == (
        "You are on call for primary until Mon 18 Jan 2027 09:00 CET (Europe/Berlin).\n"
        "Open incidents (3):\n"
        "- inc-p1 P1 calls fail & retry (triggered) https://cw.example/incidents/inc-p1\n"
        "- inc-p1-late P1 drops <b> (acknowledged) https://cw.example/incidents/inc-p1-late\n"
        "- inc-p2 P2 jitter high (triggered) https://cw.example/incidents/inc-p2")


def test_on_slack_the_person_is_named_first_and_summaries_are_escaped(oncall) -> None:
    [notice] = handoff.notices_due(oncall, local(2027, 1, 4, 8, 59), local(2027, 1, 4, 9, 0),
                                   [incident("i1", summary="a <b> & c")])
    assert notice.text.splitlines() == [
        "@ana You are on call for primary until Mon 11 Jan 2027 09:00 CET (Europe/Berlin).",
        "Open incidents (1):",
        "- i1 P1 a &lt;b&gt; &amp; c (triggered) /incidents/i1"]


def test_a_slack_user_id_is_mentioned_so_that_slack_notifies_them(oncall) -> None:
    policy = dataclasses.replace(oncall, contacts={**oncall.contacts, "eng_a": dataclasses.replace(
        oncall.contacts["eng_a"], slack="U024BE7LH")})
    [notice] = handoff.notices_due(policy, local(2027, 1, 4, 8, 59), local(2027, 1, 4, 9, 0), [])
    assert notice.text.startswith("<@U024BE7LH> You are on call for primary until ")


def test_with_nothing_open_the_notice_says_so(oncall) -> None:
    [notice] = handoff.notices_due(oncall, local(2027, 1, 11, 8, 59), local(2027, 1, 11, 9, 0),
                                   [incident("gone", state="resolved")])
    assert notice.text.splitlines()[1:] == ["No incident is open."]


def test_a_long_list_is_cut_and_the_rest_counted(oncall) -> None:
    many = [incident(f"i{n:02d}", opened_at=float(n)) for n in range(25)]
    [notice] = handoff.notices_due(oncall, local(2027, 1, 11, 8, 59), local(2027, 1, 11, 9, 0),
                                   many)
    lines = notice.text.splitlines()
    assert lines[1] == "Open incidents (25):"
    assert lines[2].startswith("- i00 ") and lines[-2].startswith("- i19 ")
    assert lines[-1] == "... and 5 more"


def test_a_lone_participant_is_on_call_until_further_notice(oncall) -> None:
    alone = Schedule("solo", "UTC", (ScheduleLayer("only", datetime(2027, 1, 4, 9, 0), WEEK,
                                                   ("eng_a",)),))
    policy = dataclasses.replace(oncall, schedules={"solo": alone})
    [notice] = handoff.notices_due(policy, None, local(2027, 1, 4, 10, 0), [])
    assert notice.summary == "You are on call for solo until further notice."


def test_the_summer_end_is_written_in_summer_time(oncall) -> None:
    [notice] = handoff.notices_due(oncall, None, local(2027, 7, 1, 12, 0), [])
    assert notice.summary.endswith("until Mon 05 Jul 2027 09:00 CEST (Europe/Berlin).")


def test_the_notice_row_is_a_handoff_about_no_incident_carrying_its_words(oncall) -> None:
    [notice] = handoff.notices_due(oncall, local(2027, 1, 4, 8, 59), local(2027, 1, 4, 9, 0), [])
    row = handoff.notice_row(notice, policy=oncall, now=local(2027, 1, 4, 9, 0),
                             new_id=lambda: "row-1")
    assert row is not None
    assert (row.id, row.incident_id, row.channel, row.kind, row.lane, row.page) == (
        "row-1", "", "slack", MessageKind.HANDOFF, "", None)
    assert row.next_attempt_at == local(2027, 1, 4, 9, 0)        # due at once
    assert row.batch == f"handoff:primary:{local(2027, 1, 4, 9, 0)!r}:eng_a"
    assert row.payload["text"] == notice.text
    assert (row.payload["recipients"], row.payload["priority"], row.payload["summary"]) == (
        ["@ana"], "", notice.summary)


def test_an_unreachable_person_gets_no_row(oncall) -> None:
    [notice] = handoff.notices_due(oncall, local(2027, 1, 18, 8, 59), local(2027, 1, 18, 9, 0),
                                   [])
    assert handoff.notice_row(notice, policy=oncall, now=0.0, new_id=lambda: "x") is None


# -- policy gap warnings (policy.schedule_checks) -------------------------------------------

def test_a_schedule_without_gaps_warns_nothing(oncall) -> None:
    covered = dataclasses.replace(oncall, schedules={"primary": schedules()["primary"]})
    assert schedule_warnings(covered, datetime(2027, 2, 1, tzinfo=UTC)) == ()


def test_a_gap_warning_names_the_file_the_schedule_and_the_first_gap_in_local_time(
        oncall) -> None:
    # nights: nobody from 06:00 to 22:00 local every day; 16h a day over 14 days
    assert schedule_warnings(oncall, datetime(2027, 2, 1, 12, 0, tzinfo=BERLIN)) == (
        "deploy/policy.yaml: schedules.nights: nobody is on call from Mon 01 Feb 2027 12:00 "
        "CET (Europe/Berlin) to Mon 01 Feb 2027 22:00 CET (Europe/Berlin) (224h uncovered in "
        "the next 14 days); pages to schedule:nights then go to the next escalation level",)


def test_a_gap_that_begins_later_is_named_from_its_start(oncall) -> None:
    [line] = schedule_warnings(oncall, datetime(2027, 2, 1, 23, 0, tzinfo=BERLIN))
    assert ("nobody is on call from Tue 02 Feb 2027 06:00 CET (Europe/Berlin) to Tue 02 Feb "
            "2027 22:00 CET (Europe/Berlin)") in line


def test_a_schedule_that_has_not_started_warns_until_its_first_shift(oncall) -> None:
    early = datetime(2027, 1, 1, 9, 0, tzinfo=BERLIN)
    primary = dataclasses.replace(oncall, schedules={"primary": schedules()["primary"]})
    assert schedule_warnings(primary, early) == (
        "deploy/policy.yaml: schedules.primary: nobody is on call from Fri 01 Jan 2027 09:00 "
        "CET (Europe/Berlin) to Mon 04 Jan 2027 09:00 CET (Europe/Berlin) (72h uncovered in "
        "the next 14 days); pages to schedule:primary then go to the next escalation level",)


def test_a_gap_with_no_end_in_sight_says_at_least(oncall) -> None:
    over = ScheduleOverride("eng_a", datetime(2027, 1, 1, 0, 0), datetime(2027, 1, 2, 0, 0))
    lone = Schedule("cover", "UTC", (ScheduleLayer(
        "later", datetime(2028, 1, 1, 0, 0), WEEK, ("eng_a",)),), (over,))
    [line] = schedule_warnings(dataclasses.replace(oncall, schedules={"cover": lone}),
                               datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    assert ("nobody is on call from Sat 02 Jan 2027 00:00 UTC to at least Fri 02 Apr 2027 "
            "00:00 UTC (324h uncovered") in line


@pytest.mark.parametrize(("at", "zone", "expected"), [
    (datetime(2027, 1, 18, 8, 0, tzinfo=UTC), "Europe/Berlin", "Mon 18 Jan 2027 09:00 CET "
     "(Europe/Berlin)"),
    (datetime(2027, 7, 5, 7, 0, tzinfo=UTC), "Europe/Berlin", "Mon 05 Jul 2027 09:00 CEST "
     "(Europe/Berlin)"),
    (datetime(2027, 1, 18, 8, 0, tzinfo=UTC), "UTC", "Mon 18 Jan 2027 08:00 UTC"),
    (datetime(2027, 1, 18, 8, 0, tzinfo=UTC), "America/Sao_Paulo",
     "Mon 18 Jan 2027 05:00 -03 (America/Sao_Paulo)"),
], ids=["winter time", "summer time", "a zone named by its abbreviation is named once",
        "a zone without an abbreviation shows its offset"])
def test_local_time_is_the_wall_clock_and_the_zone(at, zone, expected) -> None:
    assert local_time(at, zone) == expected
