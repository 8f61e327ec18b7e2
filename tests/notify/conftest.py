"""Fixtures for the notifier tests: the simulator, real aiosmtpd servers, a throwaway
certificate."""

from __future__ import annotations

import logging

import pytest

from callwatch.stack import free_port
from tests.notify.standins import self_signed, server_context


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> tuple[str, str]:
    """(cert_file, key_file) of a self-signed certificate for 127.0.0.1 and localhost."""
    return self_signed(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtp_server(certs):
    """``smtp_server(sink, starttls=False, auth=None) -> port``: a real aiosmtpd server on loopback.

    ``starttls`` offers STARTTLS with the throwaway certificate and requires it; ``auth`` is a
    ``(username, password)`` pair the server demands (only over TLS when starttls is on).
    """
    from aiosmtpd.controller import Controller

    from tests.notify.standins import password_checker

    controllers: list[Controller] = []

    def start(sink, *, starttls: bool = False, auth: tuple[str, str] | None = None) -> int:
        kwargs: dict = {}
        if starttls:
            kwargs.update(tls_context=server_context(*certs), require_starttls=True)
        if auth:
            kwargs.update(authenticator=password_checker(*auth), auth_required=True,
                          auth_require_tls=starttls)
        controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
async def sim():
    """The project's simulator (no background traffic): PagerDuty over TLS, Slack, Twilio,
    Telnyx and an SMTP sink, each recording what it got and failing on demand."""
    from simulator import Simulator

    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
def all_logs(caplog):
    """Every log record of every logger at DEBUG, as raw formatted text (before any scrubbing)."""
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        lines = []
        for record in caplog.records:
            lines.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                lines.append(repr(record.exc_info[1]))
        return "\n".join(lines)

    return text
