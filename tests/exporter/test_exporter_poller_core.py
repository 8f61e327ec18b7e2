"""The scheduler and the shared poll machinery: one poll per source at a time, backoff, timing."""

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from exporter.collectors.base import ApiCaller, Backoff, PollError, http_error
from exporter.health import ProviderState
from exporter.metrics import create_metrics
from exporter.poller import Poller


class SlowSource:
    name, provider, interval = "twilio.slow", "twilio", 10.0

    def __init__(self, fail: BaseException | None = None) -> None:
        self.running = self.most = self.polls = 0
        self.fail = fail

    async def poll(self) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        self.polls += 1
        if self.fail:
            raise self.fail


def make_poller():
    registry = CollectorRegistry()
    states = {"twilio": ProviderState(), "telnyx": ProviderState()}
    return Poller(create_metrics(registry), states, lambda: 1000.0), registry, states


async def test_one_source_is_never_polled_twice_at_once():
    poller, _, _ = make_poller()
    source = SlowSource()
    poller.add(source)
    await asyncio.gather(*(poller.run_once(source) for _ in range(5)))
    assert source.polls == 5 and source.most == 1


async def test_a_failed_poll_sets_provider_up_to_0_and_records_the_error():
    poller, registry, states = make_poller()
    source = SlowSource(fail=http_error(503, "HTTP 503"))
    poller.add(source)
    delay = await poller.run_once(source)
    assert delay == 20.0
    assert registry.get_sample_value("telephony_provider_up", {"provider": "twilio"}) == 0
    assert states["twilio"].api_up is False and "503" in states["twilio"].last_error


async def test_the_background_loop_polls_until_stopped():
    poller, registry, _ = make_poller()
    source = SlowSource()
    source.interval = 0.01
    poller.add(source)
    poller.start()
    await asyncio.sleep(0.2)
    await poller.stop()
    assert source.polls >= 2
    assert registry.get_sample_value("telephony_provider_up", {"provider": "twilio"}) == 1


BACKOFF = [
    ("a 429 doubles the interval", [http_error(429, "x")], 20.0),
    ("two 5xx in a row quadruple it", [http_error(500, "x"), http_error(502, "x")], 40.0),
    ("Retry-After longer than the backoff wins", [http_error(429, "x", "90")], 90.0),
    ("a 4xx other than 429 is not retried sooner or later", [http_error(401, "x")], 10.0),
    ("a timeout backs off", [PollError("timeout")], 20.0),
    ("the backoff is capped", [http_error(503, "x")] * 20, 300.0),
]


@pytest.mark.parametrize("name,errors,expected", BACKOFF, ids=[b[0] for b in BACKOFF])
def test_backoff(name, errors, expected):
    backoff = Backoff(10.0)
    delays = [backoff.failure(error) for error in errors]
    assert delays[-1] == expected
    assert backoff.success() == 10.0 and backoff.failures == 0


async def test_every_api_call_is_timed_and_counted_and_bounded_by_the_timeout():
    registry = CollectorRegistry()
    api = ApiCaller(create_metrics(registry), "telnyx", 0.05, lambda exc: None)

    async def ok():
        return 42

    async def hang():
        await asyncio.sleep(5)

    assert await api.call("active_calls", ok) == 42
    with pytest.raises(PollError, match="no answer within"):
        await api.call("active_calls", hang)
    get = registry.get_sample_value
    labels = {"provider": "telnyx", "operation": "active_calls"}
    assert get("telephony_provider_api_requests_total", {**labels, "outcome": "success"}) == 1
    assert get("telephony_provider_api_requests_total", {**labels, "outcome": "error"}) == 1
    assert get("telephony_provider_api_request_duration_seconds_count", labels) == 2
