"""Response trends: ``GET /reports/trends`` on a store the test fills with incidents whose
times it chose, checked against figures worked out by hand; the week arithmetic; bad input."""

from __future__ import annotations

from datetime import UTC, datetime

from receiver.domain.model import Changes, Incident
from receiver.domain.trends import week_start, window_start
from receiver.http.common import RECEIVER


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NOW = "2027-01-15T08:00:00"     # the FakeClock's start: a Friday


def test_weeks_begin_on_monday_at_midnight_utc():
    monday = at("2027-01-11T00:00:00")
    assert week_start(monday) == monday
    assert week_start(at("2027-01-17T23:59:59")) == monday
    assert week_start(at("2027-01-10T23:59:59")) == at("2027-01-04T00:00:00")
    assert window_start(at(NOW), 1) == monday
    assert window_start(at(NOW), 3) == at("2026-12-28T00:00:00")


# (id, priority, alertname or None, opened, seconds to ack or None, seconds to resolve or None)
INCIDENTS = [
    ("a", "P1", "TelephonyCallDropRateHigh", "2026-12-28T10:00:00", 120, 600),
    ("b", "P1", "TelephonyCallDropRateHigh", "2027-01-03T23:59:59", 300, 1800),  # Sunday
    ("c", "P1", "TelephonyCallQualityLow", "2027-01-04T00:00:00", None, None),   # Monday
    ("d", "P0", "TelephonyServiceDown", "2027-01-11T09:00:00", 60, None),
    ("e", "P3", None, "2027-01-14T09:00:00", None, 3600),            # declared by hand
    ("g", "P0", "TelephonyServiceDown", "2027-01-15T07:00:00", 30, 90),
    ("f", "P2", "TelephonyServiceDown", "2026-12-27T23:59:59", 10, 20),  # before the window
]


async def fill(client) -> None:
    store = client.app[RECEIVER].opened_store()
    for key, priority, alertname, opened, ack, fix in INCIDENTS:
        start = at(opened)
        state = "resolved" if fix is not None else "acknowledged" if ack else "triggered"
        incident = Incident(
            id=f"trend-{key}", group_key=f"trend:{key}", priority=priority, state=state,
            summary=f"incident {key}", provider="twilio", opened_at=start,
            acked_at=start + ack if ack is not None else None,
            acked_by="Ada" if ack is not None else None,
            resolved_at=start + fix if fix is not None else None,
            labels={"alertname": alertname} if alertname else {"source": "manual"},
            updated_at=start)
        await store.apply_group(f"trend-delivery-{key}", incident.group_key, start,
                                lambda _snapshot, i=incident: Changes(incident=i,
                                                                      new_incident=True))


def cell(opened=0, acknowledged=0, mtta=None, resolved=0, mttr=None) -> dict:
    return {"opened": opened, "acknowledged": acknowledged, "mtta_seconds": mtta,
            "resolved": resolved, "mttr_seconds": mttr}


def week(start: str, end: str, **cells: dict) -> dict:
    return {"start": start, "end": end,
            "priorities": {p: cells.get(p, cell()) for p in ("P0", "P1", "P2", "P3")}}


async def test_trends_match_the_figures_worked_out_by_hand(make_client):
    client = await make_client()
    await fill(client)
    response = await client.get("/reports/trends", params={"weeks": "3"})
    assert response.status == 200
    assert await response.json() == {
        "weeks": 3, "from": "2026-12-28T00:00:00.000Z", "to": "2027-01-15T08:00:00.000Z",
        "series": [
            # a and b: acknowledged after 120 s and 300 s, resolved after 600 s and 1800 s
            week("2026-12-28T00:00:00.000Z", "2027-01-04T00:00:00.000Z",
                 P1=cell(2, 2, 210.0, 2, 1200.0)),
            # c: opened on the Monday, neither acknowledged nor resolved
            week("2027-01-04T00:00:00.000Z", "2027-01-11T00:00:00.000Z", P1=cell(1)),
            # d and g acknowledged after 60 s and 30 s, only g resolved (90 s); e resolved
            # after an hour without an acknowledgement; the week ends now
            week("2027-01-11T00:00:00.000Z", "2027-01-15T08:00:00.000Z",
                 P0=cell(2, 2, 45.0, 1, 90.0), P3=cell(1, 0, None, 1, 3600.0)),
        ],
        "alertnames": [{"alertname": "TelephonyCallDropRateHigh", "incidents": 2},
                       {"alertname": "TelephonyServiceDown", "incidents": 2},
                       {"alertname": "TelephonyCallQualityLow", "incidents": 1},
                       {"alertname": None, "incidents": 1}],
    }
    this_week = await (await client.get("/reports/trends?weeks=1")).json()
    assert [w["start"] for w in this_week["series"]] == ["2027-01-11T00:00:00.000Z"]
    assert sum(row["incidents"] for row in this_week["alertnames"]) == 3
    default = await (await client.get("/reports/trends")).json()
    assert default["weeks"] == 12 and len(default["series"]) == 12


async def test_the_console_draws_the_same_figures(make_client):
    client = await make_client(anonymous=True)
    await fill(client)
    await client.post("/ui/login", data={"token": client.app[RECEIVER].config.credentials.token,
                                         "name": "Ada"})
    page = await (await client.get("/ui/trends?weeks=3")).text()
    # the P1 point of the first week: MTTA 210 s = 3.5 minutes; the table says 3m30s
    assert "<title>P1 12-28: 3.5 minutes</title>" in page
    assert "<td>3m30s</td>" in page and "<td>20m</td>" in page
    assert "<title>TelephonyCallDropRateHigh: 2</title>" in page
    assert "<title>(declared by hand): 1</title>" in page


async def test_bad_trend_queries_are_400_naming_the_parameter(make_client):
    client = await make_client()
    for query, field in (("weeks=0", "weeks"), ("weeks=105", "weeks"), ("weeks=abc", "weeks"),
                         ("weeks=1&weeks=2", "weeks"), ("week=3", "week")):
        response = await client.get(f"/reports/trends?{query}")
        body = await response.json()
        assert (response.status, body["error"], body["field"]) == (400, "invalid_request",
                                                                    field), query
    anonymous = await make_client(anonymous=True)
    assert (await anonymous.get("/reports/trends")).status == 401
