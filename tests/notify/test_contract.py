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

HTTP = ("pagerduty", "slack", "phone via twilio", "phone via telnyx")
SMTP = ("email", "digest")

_BODIES = {
    "pagerduty": {400: {"status": "invalid event", "message": "Event object is invalid",
                        "errors": ["'payload' is missing"]}},
    "slack": {400: {"ok": False, "error": "invalid_arguments"}, 401: {"ok": False, "error": "not_authed"},
              403: {"ok": False, "error": "missing_scope"}, 429: {"ok": False, "error": "ratelimited"}},
    "phone via twilio": {400: {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400},
                         401: {"code": 20003, "message": "Authenticate", "status": 401}},
}


def body(name: str, status: int) -> object:
    if status >= 500 and name == "slack":
        return "<html><body>upstream error</body></html>"
    default = {"errors": [{"code": str(status), "title": "error", "detail": "failed"}]}
    return _BODIES.get(name, {}).get(status, default)


def rows() -> list:
    table = []

    def row(names, sentence, spec, reason, retryable):
        for name in names:
            spec_for = spec(name) if callable(spec) else spec
            table.append(pytest.param(name, spec_for, reason, retryable,
                                      id=f"{name}: {sentence}"))

    row(HTTP, "HTTP 429 from the far side is retried as rate_limited",
        lambda n: ("http", 429, body(n, 429)), "rate_limited", True)
    for status in (500, 502, 503):
        row(HTTP, f"HTTP {status} from the far side is retried as server_error",
            lambda n, s=status: ("http", s, body(n, s)), "server_error", True)
    for status in (401, 403):
        row(HTTP, f"HTTP {status} from the far side is an auth failure, not retried",
            lambda n, s=status: ("http", s, body(n, s)), "auth", False)
    row(HTTP, "HTTP 400 from the far side is rejected, not retried",
        lambda n: ("http", 400, body(n, 400)), "rejected", False)
    row(("phone via telnyx",), "HTTP 422 from the far side is rejected, not retried",
        ("http", 422, {"errors": [{"code": "10015", "title": "Invalid value"}]}), "rejected", False)
    row(("slack",), "ok:false channel_not_found is a config error, not retried",
        ("http", 200, {"ok": False, "error": "channel_not_found"}), "config", False)
    row(("slack",), "ok:false invalid_auth is an auth failure, not retried",
        ("http", 200, {"ok": False, "error": "invalid_auth"}), "auth", False)
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
async def env(serve, tls, certs, smtp_server):
    """The fixtures plus a refused port and a black-hole port (accepts, never answers)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader, writer):
        held.append(writer)
        await reader.read()  # until the client gives up and closes

    blackhole = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield Env(serve, tls, certs, smtp_server, free_port(), blackhole.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    blackhole.close()


async def run(env: Env, name: str, spec: tuple):
    """Start the harness, send one notification through a notifier facing ``spec``."""
    harness = HARNESSES[name](env)
    await harness.start()
    notifier = harness.build(spec)
    try:
        return harness, await notifier.send(harness.note())
    finally:
        await notifier.close()


@pytest.mark.parametrize("name", list(HARNESSES))
async def test_a_send_the_far_side_accepts_returns_a_delivery_and_logs_no_secret(env, all_logs, name):
    harness, delivery = await run(env, name, ("ok",))
    assert isinstance(delivery, Delivery) and delivery.ref
    for secret in harness.secrets:
        assert secret not in all_logs()


@pytest.mark.parametrize(("name", "spec", "reason", "retryable"), rows())
async def test_a_failure_is_classified_and_never_shows_a_secret(env, all_logs, name, spec, reason,
                                                                 retryable):
    assert reason in REASONS
    with pytest.raises(NotifyError) as caught:
        await run(env, name, spec)
    error = caught.value
    assert (error.reason, error.retryable) == (reason, retryable), error.detail
    for secret in HARNESSES[name].secrets:
        assert secret not in str(error) and secret not in repr(error.args)
        assert secret not in all_logs()
    # No chained SDK exception rides along into a logged traceback (SDK texts may hold secrets).
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
