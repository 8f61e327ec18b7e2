"""The monthly review (issue 17, part 4): ``GET /reports/monthly`` and ``callwatch report
monthly`` on a store filled with four months of generated incidents, every figure checked
against expectations computed by hand below; the charts; bad input.

The generator (``SPEC``) is deterministic: each row is one incident, opened at 01:00 UTC on
its day, acknowledged / resolved so many minutes later (None: never), with its reopenings,
an ``sla_breached`` event or not, and the outbox rows it made (channel, final state).
Response times (policy): P0 15m, P1 30m, P2 2h, P3 8h.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from callwatch.cli import main
from receiver.domain import charts, monthly, monthly_render
from receiver.domain.followup import action_item_event
from receiver.domain.model import (
    ActionItem,
    Attempt,
    Changes,
    Event,
    EventKind,
    Finish,
    Incident,
    NewOutbox,
)
from receiver.http.common import RECEIVER
from tests.receiver.conftest import TOKEN

# (id, month, day, priority, alertname, ack min, resolve min, reopens, sla event, drill, rows)
SPEC = [
    ("d0", 7, 10, "P1", "CallDropRateHigh", 1, 5, 0, False, True, []),   # before the window
    ("a1", 8, 3, "P1", "CallDropRateHigh", 4, 30, 0, False, False, []),
    ("a2", 8, 9, "P1", "CallDropRateHigh", 6, 50, 0, False, False, []),
    ("s1", 9, 14, "P1", "SipErrorsHigh", 10, 60, 0, False, False, []),
    ("o1", 10, 20, "P2", "SipErrorsHigh", 20, 120, 0, False, False, [("slack", "sent")]),
    ("n1", 11, 2, "P0", "TelephonyServiceDown", 2, 20, 2, False, False,
     [("slack", "sent"), ("phone", "sent"), ("pagerduty", "failed")]),
    ("n2", 11, 5, "P1", "CallDropRateHigh", 3, 30, 0, False, False,
     [("slack", "sent"), ("email", "pending")]),
    ("n3", 11, 11, "P1", "CallDropRateHigh", 45, 90, 0, True, False, [("phone", "abandoned")]),
    ("n4", 11, 17, "P2", "CallDropRateHigh", None, 180, 0, False, False, []),
    ("n5", 11, 29, "P3", "WebhookLatencyHigh", 1, None, 0, False, False, []),
    ("d1", 11, 20, "P0", "TelephonyServiceDown", 1, 5, 1, True, True, [("slack", "sent")]),
    ("x1", 12, 1, "P0", "TelephonyServiceDown", 1, 5, 0, False, False, [("slack", "sent")]),
]
MINUTE = 60.0
DRILL_RESULT = {"alert_to_page_seconds": 2.5, "page_to_ack_seconds": 57.0, "acked_by": "eng_a"}


def opened(month: int, day: int) -> float:
    return dt.datetime(2026, month, day, 1, tzinfo=dt.UTC).timestamp()


def generated(row) -> tuple[Incident, list[Event], list[tuple[NewOutbox, str]]]:
    ident, month, day, priority, name, ack, fix, reopens, sla, drill, rows = row
    at = opened(month, day)
    labels = {"alertname": name, **({"drill": "true"} if drill else {})}
    incident = Incident(ident, f"g-{ident}", priority, "resolved" if fix else "acknowledged",
                        f"{name} ({ident})", "twilio", at,
                        acked_at=at + ack * MINUTE if ack is not None else None,
                        acked_by="eng_a" if ack is not None else None,
                        resolved_at=at + fix * MINUTE if fix is not None else None,
                        labels=labels, updated_at=at)
    events = [Event(ident, at, EventKind.OPENED, "alertmanager")]
    events += [Event(ident, at + n + 1, EventKind.REOPENED, "alertmanager") for n in range(reopens)]
    events += [Event(ident, at + 30 * MINUTE, EventKind.SLA_BREACHED, "escalation")] if sla else []
    events += [Event(ident, at + 10 * MINUTE, EventKind.DRILL, "callwatch drill", DRILL_RESULT)
               ] if drill else []
    outbox = [(NewOutbox(f"{ident}-{n}", ident, channel, "trigger", {}, at, f"b-{ident}-{n}"),
               state) for n, (channel, state) in enumerate(rows)]
    return incident, events, outbox


async def fill(store) -> None:
    """Write every SPEC incident as it was opened, then settle its rows' states."""
    finishes = {}
    for row in SPEC:
        incident, events, outbox = generated(row)
        changes = Changes(incident=incident, new_incident=True, events=events,
                          outbox=[r for r, _ in outbox])
        await store.apply_group(f"k-{incident.id}", incident.group_key, incident.opened_at,
                                lambda snapshot, c=changes: c)
        finishes.update({r.id: state for r, state in outbox})
    claimed = await store.claim_outbox("gen", 2e9, 60, 100)
    for row in claimed:
        if finishes[row.id] != "pending":
            await store.finish_outbox(row.id, "gen", 2e9, Finish(
                finishes[row.id], Attempt(row.id, 2e9, "gen", finishes[row.id])))
    items = [ActionItem("i1", "n1", "Alert earlier on SIP 503s", "eng_a", "2026-12-01", 1.0, "A"),
             ActionItem("i2", "n2", "Runbook for drops", "the SRE team", "2027-02-01", 2.0, "A"),
             ActionItem("i3", "n3", "Closed already", "eng_b", "2026-11-30", 3.0, "A"),
             ActionItem("i4", "d1", "Drill: page the backup", "eng_a", "2026-12-01", 4.0, "A"),
             ActionItem("i5", "d0", "Drill: fix the runbook", "eng_b", "2026-08-01", 5.0, "A")]
    for item in items:
        assert await store.add_action_item(item, action_item_event(item, False, "A", 1.0))
    await store.close_action_item("n3", "i3", "B", 4.0)


@pytest.fixture
async def filled(make_client):
    client = await make_client()   # the clock: 2027-01-15 (FakeClock)
    await fill(client.app[RECEIVER].store)
    return client


async def test_the_november_review_has_the_hand_computed_figures(filled):
    response = await filled.get("/reports/monthly?month=2026-11")
    assert response.status == 200
    review = await response.json()
    assert (review["month"], review["from"], review["to"]) == (
        "2026-11", "2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")
    # n1..n5: the drill d1 and December's x1 are not counted
    assert review["incidents"]["total"] == 5
    assert review["incidents"]["by_priority"] == {"P0": 1, "P1": 2, "P2": 1, "P3": 1}
    assert review["incidents"]["by_alertname"] == [
        {"alertname": "CallDropRateHigh", "incidents": 3},   # n2, n3, n4
        {"alertname": "TelephonyServiceDown", "incidents": 1},
        {"alertname": "WebhookLatencyHigh", "incidents": 1}]
    response_times = review["response"]
    assert response_times["months"] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    mtta = {p: [c["mtta_seconds"] for c in cells]
            for p, cells in response_times["by_priority"].items()}
    mttr = {p: [c["mttr_seconds"] for c in cells]
            for p, cells in response_times["by_priority"].items()}
    # P1: Aug (4+6)/2 = 5 min; Sep 10 min; Oct none; Nov (3+45)/2 = 24 min
    assert mtta["P1"] == [300.0, 600.0, None, 1440.0]
    # P1 MTTR: Aug (30+50)/2 = 40 min; Sep 60 min; Oct none; Nov (30+90)/2 = 60 min
    assert mttr["P1"] == [2400.0, 3600.0, None, 3600.0]
    # P0 Nov: n1 alone (d1 is a drill): 2 min and 20 min; P2 n4 never acked, resolved at 3h
    assert (mtta["P0"][3], mttr["P0"][3], mtta["P2"][3], mttr["P2"][3]) == (
        120.0, 1200.0, None, 10800.0)
    assert (mtta["P2"][2], mttr["P2"][2], mtta["P3"][3], mttr["P3"][3]) == (
        1200.0, 7200.0, 60.0, None)
    # n3 (an sla_breached event; acked at 45m > 30m), n4 (resolved unacked at 3h > 2h)
    breaches = review["sla_breaches"]
    assert (breaches["total"], [i["id"] for i in breaches["incidents"]]) == (2, ["n3", "n4"])
    assert breaches["by_priority"] == {"P0": 0, "P1": 1, "P2": 1, "P3": 0}
    # flaps: n1 reopened twice; d1's reopening is a drill's
    assert review["noisiest"] == [
        {"alertname": "CallDropRateHigh", "incidents": 3, "flaps": 0},
        {"alertname": "TelephonyServiceDown", "incidents": 1, "flaps": 2},
        {"alertname": "WebhookLatencyHigh", "incidents": 1, "flaps": 0}]
    # November's rows: n1 slack/phone/pagerduty, n2 slack/email, n3 phone (d1's slack: a drill)
    pages = review["pages"]
    assert (pages["total"], pages["failures"]) == (6, 2)
    channels = [(c["channel"], c["total"], c["failures"], c["states"])
                for c in pages["by_channel"]]
    assert channels == [
        ("email", 1, 0, {"pending": 1}), ("pagerduty", 1, 1, {"failed": 1}),
        ("phone", 2, 1, {"abandoned": 1, "sent": 1}), ("slack", 2, 0, {"sent": 2})]
    # i1 due 2026-12-01 < 2027-01-15: overdue; i2 due 2027-02-01; i3 closed; i4 and i5 are
    # drills' (d1 this month, d0 in July, outside the window the review reads): not counted
    items = review["action_items"]
    assert (items["open"], items["overdue"]) == (2, 1)
    assert [(i["id"], i["overdue"]) for i in items["items"]] == [("i1", True), ("i2", False)]
    assert [i["id"] for i in items["drills"]] == ["i5", "i4"]   # by due date
    assert [(d["id"], d["result"]) for d in review["drills"]] == [("d1", DRILL_RESULT)]


async def test_markdown_and_html_carry_the_figures_and_the_charts(filled):
    md = await (await filled.get("/reports/monthly?month=2026-11&format=md")).text()
    assert md.startswith("# Monthly review 2026-11\n")
    assert "| P1 | 5m | 10m | n/a | 24m |" in md                # the MTTA trend table
    assert "## SLA breaches: 2" in md and "## Pages: 6, failures: 2" in md
    assert "| TelephonyServiceDown | 1 | 2 |" in md
    assert "P1 | ██████████████████████████████ 2" in md        # the largest bar, full width
    page = await filled.get("/reports/monthly?month=2026-11&format=html")
    assert page.content_type == "text/html"
    text = await page.text()
    assert text.count("<svg ") == 4 and "<title>MTTA per month (minutes)</title>" in text
    assert "<td>d1</td>" in text   # the drill is listed, with its figures
    assert "<td>2s</td><td>57s</td><td>eng_a</td>" in text
    assert "| Drill: page the backup | d1 | eng_a | 2026-12-01 |" in md


async def test_the_cli_writes_the_review_where_it_is_told(filled, monkeypatch, tmp_path,
                                                          capsys):
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    url = str(filled.server.make_url("")).rstrip("/")
    out = tmp_path / "review.html"
    code = await asyncio.to_thread(main, ["report", "--url", url, "monthly", "--month",
                                          "2026-11", "--out", str(out)])
    assert code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    code = await asyncio.to_thread(main, ["report", "--url", url, "monthly", "--month",
                                          "2026-11", "--format", "json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["incidents"]["total"] == 5
    code = await asyncio.to_thread(main, ["report", "--url", url, "monthly", "--month", "11"])
    assert code == 1
    assert capsys.readouterr().err.startswith(
        "callwatch report monthly: HTTP 400 invalid_request: month: required, a month YYYY-MM ")


@pytest.mark.parametrize("case, query, field", [
    ("no month", "", "month"),
    ("a thirteenth month", "?month=2026-13", "month"),
    ("a day", "?month=2026-11-01", "month"),
    ("a year before the epoch's", "?month=0000-01", "month"),
    ("an unknown format", "?month=2026-11&format=pdf", "format"),
    ("an unknown parameter", "?month=2026-11&weeks=2", "weeks"),
    ("a month twice", "?month=2026-11&month=2026-10", "month"),
])
async def test_bad_review_requests_are_400_naming_the_parameter(make_client, case, query, field):
    client = await make_client()
    response = await client.get(f"/reports/monthly{query}")
    body = await response.json()
    assert (response.status, body["error"], body["field"]) == (400, "invalid_request", field), case


def test_an_empty_month_is_zeros_and_nulls_not_an_error(policy):
    review = monthly.monthly(monthly.Month(2026, 2), monthly.Inputs([], [], [], []), policy,
                             0.0, ("P0", "P1"))
    assert review["incidents"]["total"] == 0 and review["sla_breaches"]["total"] == 0
    assert review["response"]["by_priority"]["P1"][-1]["mtta_seconds"] is None
    assert "None." in monthly_render.markdown(review)
    assert review["response"]["months"] == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_charts_scale_to_the_largest_value_and_escape_their_words():
    svg = charts.svg_bars("<b>", ["a&b", "c"], {"x": [10, 5], "y": [None, 2.5]}, " min")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a&amp;b" in svg
    assert svg.count("<rect ") == 3 + 2   # three bars (None draws nothing), two legend keys
    assert charts.text_bars(["a", "b"], {"n": [4, 2]}, width=4) == ["a | ████ 4", "b | ██ 2"]
    assert charts.text_bars(["a"], {"n": [None]}) == ["a | n/a"]

