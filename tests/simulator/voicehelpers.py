"""A tiny receiver for the voice tests (imported as ``voicehelpers``): it takes the simulated
providers' callbacks, checks every signature as callwatch's receiver must, and records them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aiohttp import web
from twilio.request_validator import RequestValidator

from callwatch.signatures import SignatureError, TelnyxVerifier, load_telnyx_public_key
from simulator import Simulator


@dataclass
class Hit:
    """One callback the receiver took: its path, method and form fields (Twilio, body or query)
    or event (Telnyx: the envelope's ``data``)."""

    path: str
    method: str
    fields: dict = field(default_factory=dict)


class Receiver:
    """Routes: ``/twilio/{name}`` (any method) and ``/telnyx/events``. A forged request is
    answered 403 and counted in ``forged``; every other one is recorded in ``hits``.

    ``twiml[name]``: the TwiML bodies ``/twilio/{name}`` answers, one per request (then an
    empty ``<Response/>``). ``fail[name]``: the HTTP status ``/twilio/{name}`` answers instead.
    """

    def __init__(self, sim: Simulator) -> None:
        self.twilio = RequestValidator(sim.twilio_auth_token)
        self.telnyx = TelnyxVerifier(load_telnyx_public_key(sim.telnyx_public_key))
        self.hits: list[Hit] = []
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.twiml: dict[str, list[str]] = {}
        self.fail: dict[str, int] = {}
        self.forged = 0
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/twilio/{name}", self.twilio_hook)
        app.router.add_post("/telnyx/events", self.telnyx_hook)
        return app

    def url(self, path: str) -> str:
        return self.base + path

    async def twilio_hook(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        # The signature covers the exact URL called (query included) and the form fields.
        if not self.twilio.validate(str(request.url), params, signature):
            self.forged += 1
            return web.Response(status=403)
        name = request.match_info["name"]
        fields = params if request.method == "POST" else dict(request.query)
        self.hits.append(Hit(request.path_qs, request.method, fields))
        if name in self.fail:
            return web.Response(status=self.fail[name], text="receiver failed")
        answers = self.twiml.get(name)
        body = answers.pop(0) if answers else "<Response/>"
        return web.Response(text=body, content_type="application/xml")

    async def telnyx_hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.telnyx.verify(body, request.headers)
        except SignatureError:
            self.forged += 1
            return web.Response(status=403)
        data = json.loads(body)["data"]
        self.hits.append(Hit(request.path, request.method, data))
        self.events.put_nowait(data)
        return web.json_response({})

    async def next_event(self, timeout: float = 5.0) -> dict:
        """The next Telnyx event's ``data`` (TimeoutError when none comes)."""
        return await asyncio.wait_for(self.events.get(), timeout)

    def twilio_hits(self) -> list[tuple[str, str]]:
        """(path without query, CallStatus or Digits) per Twilio callback, in order."""
        return [(h.path.split("?")[0], h.fields.get("Digits") or h.fields["CallStatus"])
                for h in self.hits]
