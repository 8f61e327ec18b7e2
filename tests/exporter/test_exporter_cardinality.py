"""100,000 distinct call ids and phone numbers leave the number of series unchanged.

The 100,000 events go through the parsers and the ingestion core directly (the same code the
endpoints call after verifying the signature); a few hundred more go through the real endpoints.
"""

from exporter_testkit import post_telnyx, post_twilio, telnyx_body, twilio_form
from prometheus_client import CollectorRegistry

from exporter.calls import CallTracker
from exporter.metrics import create_metrics
from exporter.parse import telnyx_event, twilio_event

STATUSES = ("completed", "busy", "failed", "no-answer", "canceled", "ringing", "in-progress")


def series(registry: CollectorRegistry) -> set[tuple]:
    return {(s.name, tuple(sorted(s.labels.items())))
            for family in registry.collect() for s in family.samples}


def test_100000_distinct_calls_and_numbers_add_no_series():
    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    tracker = CallTracker(metrics, dedup_capacity=10_000, max_live_calls=5_000)
    before = series(registry)
    for i in range(50_000):
        form = twilio_form(f"CA{i:032d}", STATUSES[i % len(STATUSES)], From=f"+1555{i:07d}",
                           SipResponseCode=str(200 + (i % 7) * 50))
        tracker.ingest(twilio_event(form))
        body = telnyx_body("call.hangup", f"leg-{i}", hangup_cause="normal_clearing",
                           to=f"+4930{i:08d}", call_quality_stats={"inbound": {"mos": "3.9"}})
        tracker.ingest(telnyx_event(body))
    after = series(registry)
    assert after == before
    labels = {value for _, pairs in after for _, value in pairs} - {"+Inf"}
    assert not any(value.startswith(("CA", "+", "leg-", "/")) for value in labels)
    assert len(tracker.seen) <= 10_000
    assert len(tracker.live) <= 5_000


async def test_calls_through_the_endpoints_add_no_series(client, telnyx_key):
    from callwatch.web import REGISTRY
    registry = client.server.app[REGISTRY]
    await post_twilio(client, twilio_form("CAwarm", "completed"))
    before = series(registry)
    for i in range(200):
        await post_twilio(client, twilio_form(f"CAx{i}", STATUSES[i % 7], To=f"+1666{i:07d}"))
        await post_telnyx(client, telnyx_key, telnyx_body("call.hangup", f"tx-{i}",
                                                          hangup_cause="user_busy"))
    assert series(registry) == before
