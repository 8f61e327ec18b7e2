"""State of the incident-action endpoints, on the app under ``ACTIONS`` (a typed AppKey)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Mapping

import aiohttp
from aiohttp import web

from receiver.domain.communications import Communications


@dataclass
class ActionsState:
    comms: Communications                       # templates (policy overrides applied)
    environ: Mapping[str, str]                  # vendor account ids, exporter URL
    pagerduty_secrets: list[str] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None  # for the exporter's provider health

    @contextlib.asynccontextmanager
    async def session_context(self, _app: web.Application):
        """cleanup_ctx resource: one HTTP client session for the app's lifetime."""
        self.session = aiohttp.ClientSession()
        try:
            yield
        finally:
            await self.session.close()
            self.session = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"ActionsState(pagerduty_secrets={len(self.pagerduty_secrets)})"


ACTIONS = web.AppKey("incident_actions", ActionsState)
