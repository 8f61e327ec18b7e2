"""Driving the whole stack (callwatch.demo.stack.DemoStack) from tests: polls with deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """The first truthy value ``probe`` returns, polling every half second until ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


class StackClient:
    """HTTP access to a running DemoStack's callwatch."""

    def __init__(self, stack, session: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.session = session
        self.auth = {"Authorization": f"Bearer {stack.token}"}

    async def get(self, path: str) -> dict:
        async with self.session.get(self.stack.urls.callwatch + path, headers=self.auth) as r:
            assert r.status == 200, f"GET {path}: {r.status} {await r.text()}"
            return await r.json()

    async def post(self, path: str, body: dict) -> tuple[int, dict]:
        async with self.session.post(self.stack.urls.callwatch + path, json=body,
                                     headers=self.auth) as r:
            return r.status, await r.json()

    async def incidents(self, alertname: str, provider: str) -> list[dict]:
        """The incidents about one alert and provider, newest first. At 60x speed a noisy
        metric may flap, so a scenario can open, resolve and reopen more than one."""
        return [i for i in (await self.get("/incidents"))["incidents"]
                if i.get("labels", {}).get("alertname") == alertname
                and i.get("labels", {}).get("provider") == provider]

    async def open_incident(self, alertname: str, provider: str,
                            priority: str | None = None) -> dict | None:
        for incident in await self.incidents(alertname, provider):
            if incident["state"] != "resolved" and priority in (None, incident["priority"]):
                return incident
        return None

    async def detail(self, incident_id: str) -> dict:
        return await self.get(f"/incidents/{incident_id}")

    async def escalations(self, incident_id: str) -> list[dict]:
        return [e for e in (await self.detail(incident_id))["timeline"]
                if e["kind"] == "escalated"]
