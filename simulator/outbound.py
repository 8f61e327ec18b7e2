"""One signed request to the receiver whose answer the caller waits for: a Slack button click,
an inbound SMS. (Played calls call back from background tasks instead: ``voice.py``.)

The request is sent once, never retried, and redirects are not followed, as the providers do
not follow them either. A receiver that cannot be reached raises :class:`Unreachable`, so a
test sees at once that its receiver was not listening.
"""

from __future__ import annotations

import aiohttp

BODY_LIMIT = 16_384  # characters of a receiver's answer kept in a record (all are returned)


class Unreachable(ConnectionError):
    """The receiver could not be reached (connection refused, timeout, bad URL)."""


async def post(url: str, body: bytes, headers: dict[str, str],
               timeout: float = 10.0) -> tuple[int, str]:
    """POST ``body`` with ``headers`` to ``url``; the receiver's status and body text."""
    try:
        async with aiohttp.ClientSession() as session, session.post(
                url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            return response.status, await response.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unreachable(f"{url}: {type(exc).__name__}: {exc}"[:500]) from exc
