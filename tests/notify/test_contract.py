"""The contract every notifier keeps, in the style of Alertmanager's notify/ retry tables.

For each notifier and each way its far side can answer: success returns a Delivery; a failure is
a NotifyError with the expected ``retryable`` flag and ``reason`` (a fixed metric label word);
and no secret the notifier holds ever appears in the error text or in any log line (every
logger, DEBUG, raw text before the log scrubber).
"""

from __future__ import annotations

import asyncio

import pytest

from receiver.notify.base import Delivery, NotifyError
from receiver.notify.common import REASONS
from tests.notify.conftest import free_port
from tests.notify.harnesses import HARNESSES, Env

HTTP = ("pagerduty", "slack", "phone via twilio", "phone via telnyx", "statuspage")
SMTP = ("email", "digest")

def rows() -> list:
    table = []

    def row(names, sentence, spec, reason, retryable):
        for name in names:
            table.append(pytest.param(name, spec, reason, retryable, id=f"{name}: {sentence}"))

    row(HTTP, "HTTP 429 from the far side is retried as rate_limited",
        ("http", 429), "rate_limited", True)
    for status in (500, 502, 503):
        row(HTTP, f"HTTP {status} from the far side is retried as server_error",
            ("http", status), "server_error", True)
    for status in (401, 403):
        row(HTTP, f"HTTP {status} from the far side is an auth failure, not retried",
            ("http", status), "auth", False)
    row(HTTP, "HTTP 400 from the far side is rejected, not retried",
        ("http", 400), "rejected", False)
    row(HTTP, "HTTP 404 from the far side is a config error (wrong base URL), not retried",
        ("http", 404), "config", False)
    row(("phone via telnyx",), "HTTP 422 from the far side is rejected, not retried",
        ("http", 422), "rejected", False)
    for code, reason, retryable in (("channel_not_found", "config", False),
                                    ("invalid_auth", "auth", False), ("not_authed", "auth", False),
                                    ("ratelimited", "rate_limited", True),
                                    ("internal_error", "server_error", True),
                                    ("msg_too_long", "rejected", False)):
        row(("slack",), f"ok:false {code} is {reason}{'' if retryable else ', not retried'}",
            ("slack_error", code), reason, retryable)
    row(SMTP, "SMTP 451 to RCPT is retried as server_error", ("smtp", "451 4.3.0 try later"),
        "server_error", True)
    row(SMTP, "SMTP 421 to RCPT is retried as server_error", ("smtp", "421 4.7.0 too busy"),
        "server_error", True)
    row(SMTP, "SMTP 550 to RCPT is rejected, not retried", ("smtp", "550 5.1.1 no such user"),
        "rejected", False)
    row(SMTP, "a refused SMTP login is an auth failure, not retried", ("wrong_password",),
        "auth", False)
    row(SMTP, "a server without STARTTLS is a config error, not retried", ("no_starttls",),
        "config", False)
    row(HTTP + SMTP, "nothing listening is retried as connection", ("refused",),
        "connection", True)
    row(HTTP + SMTP, "a far side that never answers is retried as timeout", ("blackhole",),
        "timeout", True)
    return table


@pytest.fixture
async def env(sim, certs, smtp_server):
    """The fixtures plus a refused port and a black-hole port (accepts, never answers)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader, writer):
        held.append(writer)
        await reader.read()  # until the client gives up and closes

    blackhole = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield Env(sim, certs, smtp_server, free_port(), blackhole.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    blackhole.close()


async def run(harness, spec: tuple) -> Delivery:
    """Start the harness, send one notification through a notifier facing ``spec``."""
    await harness.start()
    notifier = harness.build(spec)
    try:
        return await notifier.send(harness.note())
    finally:
        await notifier.close()


@pytest.mark.parametrize("name", list(HARNESSES))
async def test_a_send_the_far_side_accepts_returns_a_delivery_and_logs_no_secret(
        env, all_logs, name):
    harness = HARNESSES[name](env)
    delivery = await run(harness, ("ok",))
    assert isinstance(delivery, Delivery) and delivery.ref
    for secret in harness.secrets:
        assert secret not in all_logs()


@pytest.mark.parametrize(("name", "spec", "reason", "retryable"), rows())
async def test_a_failure_is_classified_and_never_shows_a_secret(env, all_logs, name, spec, reason,
                                                                 retryable):
    assert reason in REASONS
    harness = HARNESSES[name](env)
    with pytest.raises(NotifyError) as caught:
        await run(harness, spec)
    error = caught.value
    assert (error.reason, error.retryable) == (reason, retryable), error.detail
    for secret in harness.secrets:
        assert secret not in str(error) and secret not in repr(error.args)
        assert secret not in all_logs()
    # No chained SDK exception rides along into a logged traceback (SDK texts may hold secrets).
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
