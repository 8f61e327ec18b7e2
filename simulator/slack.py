"""Slack Web API stand-in: ``POST /api/chat.postMessage`` and ``/api/chat.update``.

Accepts JSON or form bodies and the token as ``Authorization: Bearer`` or a ``token`` field,
like Slack. Answers ``{"ok": true, "channel": <id>, "ts": …, "message": …}``; errors are HTTP
200 with ``{"ok": false, "error": …}`` (``not_authed``, ``invalid_auth``, ``channel_not_found``,
``message_not_found``, ``no_text``) which ``slack_sdk`` raises as ``SlackApiError``. 429 with
``Retry-After`` and 5xx come from fault injection (service ``slack``); ``SlackState.errors`` queues
``ok:false`` answers on demand. Channel names map to stable ids (``#incidents`` → ``C…``);
replies carry ``thread_ts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

from simulator.state import SimState


@dataclass
class SlackState:
    """Messages posted, channel ids, and ok:false errors queued for the next calls."""

    messages: list[dict] = field(default_factory=list)
    channel_ids: dict[str, str] = field(default_factory=dict)
    known_channels: set[str] | None = None   # None: every channel exists
    errors: list[str] = field(default_factory=list)
    _seq: int = 0

    def channel_id(self, name: str) -> str | None:
        """The id for a channel name or id; None when the channel does not exist."""
        if name in self.channel_ids.values():
            return name
        if self.known_channels is not None and name not in self.known_channels:
            return None
        if name not in self.channel_ids:
            self.channel_ids[name] = f"C{len(self.channel_ids) + 1:010X}"
        return self.channel_ids[name]

    def next_ts(self, now: float) -> str:
        self._seq += 1
        return f"{int(now)}.{self._seq:06d}"

    def find(self, channel: str, ts: str) -> dict | None:
        for message in self.messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def thread(self, channel: str, ts: str) -> list[dict]:
        """Replies in the thread of ``ts``."""
        return [m for m in self.messages if m["channel"] == channel and m["thread_ts"] == ts]

    def clear(self) -> None:
        self.messages.clear()
        self.errors.clear()


def _fail(error: str, **extra) -> web.Response:
    return web.json_response({"ok": False, "error": error, **extra})


async def _params(request: web.Request) -> dict | None:
    raw = await request.text()
    if request.content_type == "application/json":
        try:
            body = json.loads(raw or "{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    params = dict(parse_qsl(raw, keep_blank_values=True))
    for key in ("blocks", "attachments"):  # form posts send these as JSON strings
        if key in params:
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                return None
    return params


def _check(request: web.Request, params: dict | None, token: str,
           slack: SlackState) -> web.Response | None:
    if params is None:
        return _fail("invalid_json")
    header = request.headers.get("Authorization", "")
    given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else params.get("token")
    if not given:
        return _fail("not_authed")
    if given != token:
        return _fail("invalid_auth")
    if slack.errors:
        return _fail(slack.errors.pop(0))
    return None


def add_routes(app: web.Application, state: SimState, slack: SlackState) -> None:
    """Mount ``/api/chat.postMessage`` and ``/api/chat.update``."""

    async def post_message(request: web.Request) -> web.Response:
        params = await _params(request)
        if (denied := _check(request, params, state.slack_token, slack)) is not None:
            return denied
        channel = slack.channel_id(str(params.get("channel") or ""))
        if channel is None or not params.get("channel"):
            return _fail("channel_not_found")
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            return _fail("no_text")
        ts = slack.next_ts(state.clock())
        message = {"channel": channel, "channel_name": params["channel"], "ts": ts,
                   "text": params.get("text", ""), "blocks": params.get("blocks"),
                   "thread_ts": params.get("thread_ts"), "edits": []}
        slack.messages.append(message)
        reply = {"type": "message", "text": message["text"], "ts": ts, "bot_id": "BSIM0001"}
        if message["thread_ts"]:
            reply["thread_ts"] = message["thread_ts"]
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": reply})

    async def update(request: web.Request) -> web.Response:
        params = await _params(request)
        if (denied := _check(request, params, state.slack_token, slack)) is not None:
            return denied
        channel = slack.channel_id(str(params.get("channel") or ""))
        if channel is None:
            return _fail("channel_not_found")
        message = slack.find(channel, str(params.get("ts") or ""))
        if message is None:
            return _fail("message_not_found")
        message["edits"].append({"text": message["text"], "blocks": message["blocks"]})
        message["text"] = params.get("text", message["text"])
        message["blocks"] = params.get("blocks", message["blocks"])
        return web.json_response({"ok": True, "channel": channel, "ts": message["ts"],
                                  "text": message["text"],
                                  "message": {"type": "message", "text": message["text"]}})

    app.router.add_post("/api/chat.postMessage", post_message)
    app.router.add_post("/api/chat.update", update)
