"""exporter.outcomes: the one definition of how an ended call is counted."""

import pytest
from prometheus_client import CollectorRegistry

from exporter import outcomes
from exporter.metrics import MOS_BUCKETS, create_metrics
from policy import catalog

TWILIO_CASES = [
    ("a completed call with SIP 200 is completed", "completed", "200", False, "completed"),
    ("a completed call without a SIP code is completed", "completed", None, False, "completed"),
    ("a completed call ending with SIP 408 is dropped", "completed", "408", False, "dropped"),
    ("a completed call ending with SIP 503 is dropped", "completed", "503", False, "dropped"),
    ("a completed call Insights flags abnormal is dropped", "completed", None, True, "dropped"),
    ("a busy call is busy", "busy", "486", False, "busy"),
    ("a no-answer call is no_answer", "no-answer", "480", False, "no_answer"),
    ("a canceled call is canceled", "canceled", "487", False, "canceled"),
    ("a failed call is failed", "failed", "500", False, "failed"),
    ("an Insights 'fail' state is failed", "fail", None, False, "failed"),
    ("an Insights 'noanswer' state is no_answer", "noanswer", None, False, "no_answer"),
    ("a ringing call has not ended", "ringing", None, False, None),
    ("an in-progress call has not ended", "in-progress", None, False, None),
]


@pytest.mark.parametrize("name,status,sip,abnormal,expected", TWILIO_CASES,
                         ids=[c[0] for c in TWILIO_CASES])
def test_twilio_outcome(name, status, sip, abnormal, expected):
    assert outcomes.twilio_outcome(status, sip, abnormal) == expected


TELNYX_CASES = [
    ("an answered call with normal_clearing is completed", "normal_clearing", "200", True, False,
     "completed"),
    ("an answered call ending unspecified is dropped", "unspecified", None, True, False, "dropped"),
    ("an answered call ending with a timeout is dropped", "timeout", None, True, False, "dropped"),
    ("an answered normal_clearing with SIP 503 is dropped", "normal_clearing", "503", True, False,
     "dropped"),
    ("an unanswered user_busy call is busy", "user_busy", "486", False, False, "busy"),
    ("an unanswered no_answer call is no_answer", "no_answer", None, False, False, "no_answer"),
    ("an unanswered originator_cancel call is canceled", "originator_cancel", None, False, False,
     "canceled"),
    ("an unanswered call_rejected call is failed", "call_rejected", "603", False, False, "failed"),
    ("an unanswered not_found call is failed", "not_found", "404", False, False, "failed"),
    ("answered unknown but with quality stats and unspecified is dropped", "unspecified", None,
     None, True, "dropped"),
    ("answered unknown with normal_clearing is completed", "normal_clearing", None, None, False,
     "completed"),
    ("answered unknown without stats and unspecified is failed", "unspecified", None, None, False,
     "failed"),
]


@pytest.mark.parametrize("name,cause,sip,answered,quality,expected", TELNYX_CASES,
                         ids=[c[0] for c in TELNYX_CASES])
def test_telnyx_outcome(name, cause, sip, answered, quality, expected):
    assert outcomes.telnyx_outcome(cause, sip, answered, quality) == expected


def test_every_outcome_is_in_the_catalog():
    produced = {c[-1] for c in TWILIO_CASES + TELNYX_CASES} - {None}
    assert produced == set(catalog.OUTCOMES)


def test_directions_are_a_closed_set():
    assert outcomes.twilio_direction("outbound-api") == "outbound"
    assert outcomes.twilio_direction("trunking-originating") == "inbound"
    assert outcomes.twilio_direction("+15551234567") == "unknown"
    assert outcomes.telnyx_direction("incoming") == "inbound"
    assert outcomes.telnyx_direction(None) == "unknown"


def test_every_design_metric_is_registered_with_help_text():
    registry = CollectorRegistry()
    create_metrics(registry)
    families = {m.name: m for m in registry.collect()}
    expected = {catalog.CALLS_ENDED[:-6], catalog.CALLS_ACTIVE, catalog.CALL_MOS,
                catalog.WEBHOOK_DELIVERIES[:-6], catalog.API_DURATION, catalog.API_REQUESTS[:-6],
                catalog.PROVIDER_UP, catalog.PROVIDER_STATUS, catalog.PROBE_SUCCESS,
                catalog.PROBE_DURATION, catalog.SIGNATURE_FAILURES[:-6]}
    assert expected <= set(families)
    assert all(families[name].documentation for name in expected)


def test_mos_buckets_run_from_1_to_5_by_half():
    assert MOS_BUCKETS == tuple(1 + 0.5 * i for i in range(9))
    registry = CollectorRegistry()
    create_metrics(registry).call_mos.labels("twilio").observe(3.2)
    assert registry.get_sample_value("telephony_call_mos_bucket",
                                     {"provider": "twilio", "le": "3.5"}) == 1
    assert registry.get_sample_value("telephony_call_mos_bucket",
                                     {"provider": "twilio", "le": "3.0"}) == 0
