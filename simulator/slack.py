"""Slack Web API stand-in: ``POST /api/chat.postMessage`` and ``/api/chat.update``,
``GET|POST /api/conversations.history`` and ``/api/conversations.replies``.

Accepts JSON or form bodies (and, for the reads, the query string the SDK sends with GET) and
the token as ``Authorization: Bearer`` or a ``token`` field, like Slack. ``postMessage``
answers ``{"ok": true, "channel": <id>, "ts": …, "message": …}`` and keeps the message's
``metadata`` (``{"event_type", "event_payload"}``; else ``invalid_metadata_format``). The reads
take a channel id, ``oldest``/``latest``/``inclusive``, ``limit`` and ``cursor``
(``response_metadata.next_cursor``) and answer ``{"ok": true, "messages": [...], "has_more":
…}``: history newest first, top-level messages only; replies the parent first, then its
replies oldest first. A message carries ``metadata`` only when ``include_all_metadata`` is
asked. Errors are HTTP 200 with ``{"ok": false, "error": …}`` (``not_authed``,
``invalid_auth``, ``channel_not_found``, ``message_not_found``, ``thread_not_found``,
``no_text``) which ``slack_sdk`` raises as ``SlackApiError``. 429 with ``Retry-After`` and 5xx
come from fault injection (service ``slack``); ``SlackState.errors`` queues ``ok:false``
answers on demand. Channel names map to stable ids (``#incidents`` → ``C…``); replies carry
``thread_ts``; a ``ts`` is the post time to the microsecond, unique and increasing.
``SlackState.hold_answers()`` keeps posting but holds the answers until ``release_answers()``:
a sender that dies meanwhile never learns its message was posted.
"""

from __future__ import annotations

import asyncio
import base64
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
    _last_us: int = 0
    _answers: asyncio.Event | None = None   # holding the answers until it is set

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
        """Slack's ``ts``: the post time in microseconds, unique and increasing."""
        self._last_us = max(int(now * 1_000_000), self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def hold_answers(self) -> None:
        """Post messages but keep every answer until ``release_answers``."""
        if self._answers is None:
            self._answers = asyncio.Event()

    def release_answers(self) -> None:
        if self._answers is not None:
            self._answers.set()
            self._answers = None

    async def answered(self) -> None:
        """Returns once posts are answered (at once unless held)."""
        if self._answers is not None:
            await self._answers.wait()

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
        self.release_answers()


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
    for key in ("blocks", "attachments", "metadata"):  # form posts send these as JSON
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
        metadata = params.get("metadata")
        if metadata is not None and not _metadata_ok(metadata):
            return _fail("invalid_metadata_format")
        ts = slack.next_ts(state.clock())
        message = {"channel": channel, "channel_name": params["channel"], "ts": ts,
                   "text": params.get("text", ""), "blocks": params.get("blocks"),
                   "thread_ts": params.get("thread_ts"), "metadata": metadata, "edits": []}
        slack.messages.append(message)
        reply = {"type": "message", "text": message["text"], "ts": ts, "bot_id": "BSIM0001"}
        if message["thread_ts"]:
            reply["thread_ts"] = message["thread_ts"]
        await slack.answered()
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

    async def history(request: web.Request) -> web.Response:
        params = await _read_params(request)
        if (denied := _check(request, params, state.slack_token, slack)) is not None:
            return denied
        channel = str(params.get("channel") or "")
        if channel not in slack.channel_ids.values():   # Slack reads take an id, not a name
            return _fail("channel_not_found")
        top = [m for m in slack.messages if m["channel"] == channel and not m["thread_ts"]]
        try:
            return _page(slack, params, [m for m in reversed(top) if _in_window(m, params)])
        except ValueError:
            return _fail("invalid_ts_oldest")

    async def replies(request: web.Request) -> web.Response:
        params = await _read_params(request)
        if (denied := _check(request, params, state.slack_token, slack)) is not None:
            return denied
        channel = str(params.get("channel") or "")
        if channel not in slack.channel_ids.values():
            return _fail("channel_not_found")
        parent = slack.find(channel, str(params.get("ts") or ""))
        if parent is None:
            return _fail("thread_not_found")
        try:
            thread = [m for m in slack.thread(channel, parent["ts"]) if _in_window(m, params)]
        except ValueError:
            return _fail("invalid_ts_oldest")
        return _page(slack, params, [parent, *thread])

    app.router.add_post("/api/chat.postMessage", post_message)
    app.router.add_post("/api/chat.update", update)
    for name, handler in (("history", history), ("replies", replies)):
        app.router.add_get(f"/api/conversations.{name}", handler)
        app.router.add_post(f"/api/conversations.{name}", handler)


def _metadata_ok(metadata: object) -> bool:
    return (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict))


async def _read_params(request: web.Request) -> dict | None:
    """A read's arguments: the query string (the SDK's GET) and any body (a POST)."""
    body = await _params(request) if request.can_read_body else {}
    return None if body is None else {**request.query, **body}


def _in_window(message: dict, params: dict) -> bool:
    """Between ``oldest`` and ``latest``, the ends only when ``inclusive``, as Slack reads."""
    ts, inclusive = float(message["ts"]), str(params.get("inclusive")) in ("1", "true", "True")
    oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or "inf")
    return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)


def _page(slack: SlackState, params: dict, found: list[dict]) -> web.Response:
    """``found`` from ``cursor`` on, ``limit`` of them (100, at most 999), as Slack pages."""
    try:
        limit = min(max(int(params.get("limit") or 100), 1), 999)
        start = _cursor_index(found, str(params.get("cursor") or ""))
    except ValueError:
        return _fail("invalid_cursor")
    shown = found[start:start + limit]
    metadata = str(params.get("include_all_metadata")) in ("1", "true", "True")
    body: dict = {"ok": True, "messages": [_wire(slack, m, metadata) for m in shown],
                  "has_more": start + limit < len(found), "pin_count": 0}
    if body["has_more"]:
        after = found[start + limit]["ts"]
        body["response_metadata"] = {
            "next_cursor": base64.b64encode(f"next_ts:{after}".encode()).decode()}
    return web.json_response(body)


def _cursor_index(found: list[dict], cursor: str) -> int:
    if not cursor:
        return 0
    prefix, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
    for index, message in enumerate(found):
        if prefix == "next_ts" and message["ts"] == ts:
            return index
    raise ValueError(cursor)


def _wire(slack: SlackState, message: dict, metadata: bool) -> dict:
    """A stored message as Slack's reads show it."""
    shown = {"type": "message", "text": message["text"], "ts": message["ts"],
             "bot_id": "BSIM0001"}
    if message["blocks"]:
        shown["blocks"] = message["blocks"]
    if message["thread_ts"]:
        shown["thread_ts"] = message["thread_ts"]
    elif replies := slack.thread(message["channel"], message["ts"]):
        shown.update(thread_ts=message["ts"], reply_count=len(replies),
                     latest_reply=replies[-1]["ts"])
    if metadata and message.get("metadata"):
        shown["metadata"] = message["metadata"]
    return shown
