"""The one HTTP exchange every probe makes: timed, bounded, never raising."""

from __future__ import annotations

import asyncio

import aiohttp

from exporter.probes import ProbeContext, ProbeResult
from exporter.probes.tls import recording
from policy.spec_exporter import ProbeTarget


async def exchange(ctx: ProbeContext, target: ProbeTarget, method: str, *,
                   data: bytes | None = None, headers: dict[str, str] | None = None,
                   ok=lambda status: 200 <= status < 300) -> ProbeResult:
    """Send one request to ``target.url``; success when ``ok(status)``. With a
    ``tls.probe_session`` session, an https target's certificate expiry comes along."""
    started = ctx.monotonic()
    status, detail = None, ""
    with recording() as expiries:
        try:
            async with asyncio.timeout(ctx.timeout):
                async with ctx.session.request(method, target.url, data=data, headers=headers,
                                               allow_redirects=False) as response:
                    status = response.status
                    body = await response.content.read(512)
                    detail = _detail(body)
        except TimeoutError:
            detail = f"no answer within {ctx.timeout:g}s"
        except aiohttp.ClientError as exc:
            detail = f"{type(exc).__name__}: {str(exc)[:160]}"
    duration = ctx.monotonic() - started
    success = status is not None and ok(status)
    expiry = min(expiries) if expiries else None
    return ProbeResult(target.name, target.kind, success, duration, status, detail, expiry)


def _detail(body: bytes) -> str:
    import json
    try:
        document = json.loads(body)
    except ValueError:
        return body[:120].decode("utf-8", "replace")
    if isinstance(document, dict):
        return str(document.get("detail") or document.get("status") or "")[:160]
    return ""


def failed(target: ProbeTarget, detail: str) -> ProbeResult:
    """A probe that could not even be sent (e.g. no signing secret)."""
    return ProbeResult(target.name, target.kind, False, 0.0, None, detail)
