"""A drill's measured response times, recorded on its incident's timeline as a ``drill`` event
(``POST /incidents/{id}/drill``, what ``callwatch drill`` calls) and read strictly."""

from __future__ import annotations

import pytest

from receiver.domain import drill
from tests.receiver.standins import alert, payload
from tests.receiver.test_actions import call, open_incident

RESULT = {"by": "callwatch drill", "alert_to_page_seconds": 1.25, "page_to_ack_seconds": 42,
          "acked_by": "eng_a"}


async def open_drill(client, headers=None) -> str:
    labels = {"alertname": "TelephonyProviderHealthLow", "drill": "true"}   # drill: grouped by
    body = payload(alert("TelephonyProviderHealthLow", drill="true", priority="P1"),
                   group="TelephonyProviderHealthLow", groupLabels=labels, commonLabels=labels)
    answer = await client.post("/alerts", json=body, headers=headers)
    assert answer.status == 200, await answer.text()
    return (await answer.json())["incident"]


async def test_a_drill_result_is_a_drill_event_on_the_drill_s_timeline(make_client):
    client = await make_client()
    incident_id = await open_drill(client)
    status, body = await call(client, f"/incidents/{incident_id}/drill", RESULT)
    assert status == 201, body
    assert (body["kind"], body["actor"]) == ("drill", "callwatch drill")
    assert body["detail"] == {"alert_to_page_seconds": 1.25, "page_to_ack_seconds": 42.0,
                              "acked_by": "eng_a"}
    detail = await (await client.get(f"/incidents/{incident_id}")).json()
    assert [e["detail"] for e in detail["timeline"] if e["kind"] == "drill"] == [body["detail"]]


async def test_the_console_timeline_says_what_the_drill_measured(make_client):
    from tests.receiver.conftest import auth
    from tests.receiver.test_console import console, sign_in

    client = await console(make_client)
    incident_id = await open_drill(client, auth())
    answer = await client.post(f"/incidents/{incident_id}/drill", json=RESULT, headers=auth())
    assert answer.status == 201
    await sign_in(client)
    page = await (await client.get(f"/ui/incidents/{incident_id}")).text()
    assert ("Drill recorded by callwatch drill: alert to first page 1.25 s, page to "
            "acknowledgement 42.0 s (by eng_a)") in page


async def test_a_real_incident_takes_no_drill_figures(make_client):
    client = await make_client()
    incident_id = await open_incident(client)
    status, body = await call(client, f"/incidents/{incident_id}/drill", RESULT)
    assert (status, body["error"]) == (409, "not_a_drill")
    detail = await (await client.get(f"/incidents/{incident_id}")).json()
    assert "drill" not in {e["kind"] for e in detail["timeline"]}


async def test_an_unknown_incident_is_404(make_client):
    client = await make_client()
    status, body = await call(client, "/incidents/nope/drill", RESULT)
    assert (status, body["error"]) == (404, "not_found")


@pytest.mark.parametrize("case, change, field", [
    ("a missing name", {"by": None}, "by"),
    ("a blank acknowledger", {"acked_by": "  "}, "acked_by"),
    ("a name too long", {"by": "x" * 101}, "by"),
    ("seconds as text", {"alert_to_page_seconds": "1.5"}, "alert_to_page_seconds"),
    ("seconds as a boolean", {"page_to_ack_seconds": True}, "page_to_ack_seconds"),
    ("negative seconds", {"page_to_ack_seconds": -1}, "page_to_ack_seconds"),
    ("more than a week", {"alert_to_page_seconds": 604801}, "alert_to_page_seconds"),
    ("an unknown key", {"note": "x"}, "note"),
])
def test_a_drill_result_is_read_strictly(case, change, field):
    body = {k: v for k, v in {**RESULT, **change}.items() if v is not None}
    assert drill.read_result(body).problem[0] == field


async def test_a_bad_drill_result_is_400_naming_the_field_and_writes_nothing(make_client):
    client = await make_client()
    incident_id = await open_drill(client)
    status, body = await call(client, f"/incidents/{incident_id}/drill",
                              {**RESULT, "page_to_ack_seconds": "soon"})
    assert (status, body["error"], body["field"]) == (400, "invalid_request",
                                                      "page_to_ack_seconds")
    detail = await (await client.get(f"/incidents/{incident_id}")).json()
    assert "drill" not in {e["kind"] for e in detail["timeline"]}


def test_the_latest_result_of_each_drill_is_the_one_read_back():
    from receiver.domain.model import Event, EventKind

    events = [Event("d1", 10.0, EventKind.DRILL, "a", {"acked_by": "first"}),
              Event("d1", 20.0, EventKind.DRILL, "a", {"acked_by": "second"}),
              Event("d2", 15.0, EventKind.NOTE, "a", {"text": "not a drill event"})]
    assert drill.results(events) == {"d1": {"acked_by": "second"}}
