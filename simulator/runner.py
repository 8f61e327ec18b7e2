"""Serving an aiohttp app on 127.0.0.1 with an ephemeral port (optionally over TLS)."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0,
                ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Start ``app``; return its runner (``await runner.cleanup()`` stops it) and port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    return runner, runner.addresses[-1][1]
