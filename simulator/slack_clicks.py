"""Slack interactivity: a person clicks a button on a posted message, and Slack tells the app.

:meth:`SlackClicks.click` finds the button (by ``action_id`` on the message with ``ts``, else on
the most recent posted message that has one; buttons are the ``button`` elements of ``actions``
blocks and ``button`` accessories of ``section`` blocks) and POSTs what Slack posts to the app's
Request URL: ``application/x-www-form-urlencoded`` ``payload=<JSON>`` with a ``block_actions``
payload, signed the way ``slack_sdk.signature.SignatureVerifier`` checks it:
``X-Slack-Request-Timestamp: <int>`` and ``X-Slack-Signature: v0=<hex HMAC-SHA256 of
"v0:{timestamp}:{body}" with the signing secret>``.

Every click carries a fresh ``trigger_id`` and a ``response_url`` on this server
(``/slack/response/{id}``), where the app may post JSON back; :meth:`SlackClicks.respond` keeps
what it posts. Clicks and responses are recorded (``Click``, ``SlackResponse``); a reset
forgets them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from simulator import outbound
from simulator.slack import SlackState
from simulator.state import SimState

TEAM = {"id": "T0SIM", "domain": "sim"}
APP_ID = "A0SIM"
VERIFICATION_TOKEN = "sim-verification-token"  # deprecated by Slack, still sent in payloads


class NoSuchButton(ValueError):
    """No posted message has the button asked for; ``code`` names the problem for the control
    API."""

    code = "no_such_message"


@dataclass(frozen=True)
class Target:
    """The button clicked: its message (as SlackState keeps it), block and element."""

    message: dict
    block_index: int
    block: dict
    button: dict

    @property
    def block_id(self) -> str:
        # Slack gives a block without a block_id a generated one; ours is stable per position
        # so tests can predict it, and the stored blocks stay exactly as posted.
        return str(self.block.get("block_id") or f"sim-block-{self.block_index}")


@dataclass
class Click:
    """One click sent to the app, and what the app answered (``status`` None: unreachable,
    ``error`` says why). ``payload`` is the JSON sent in the ``payload`` field."""

    action_id: str
    value: str | None
    url: str
    channel: str          # channel id
    message_ts: str
    user_id: str
    trigger_id: str
    response_url: str
    payload: dict = field(repr=False)
    status: int | None = None
    body: str = ""
    error: str | None = None
    at: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SlackResponse:
    """One post to a ``response_url``: the JSON ``body``; ``action_id``, ``message_ts`` and
    ``channel`` of the click that issued the URL (None when this simulator issued no such
    URL, e.g. after a reset)."""

    id: str
    body: dict
    at: float
    action_id: str | None = None
    message_ts: str | None = None
    channel: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``X-Slack-Signature`` of ``body`` sent at ``timestamp``: Slack's v0 scheme."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_ts(now: float) -> str:
    """A Slack timestamp (``1795000000.123456``), as ``action_ts`` carries it."""
    return f"{now:.6f}"


def buttons(message: dict) -> Iterator[tuple[int, dict, dict]]:
    """(block index, block, button) for every button on ``message``, in order."""
    for index, block in enumerate(message.get("blocks") or []):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        elif block.get("type") == "section":
            elements = [block.get("accessory")]
        else:
            continue
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                yield index, block, element


def _channel_ids(slack: SlackState, channel: str) -> set[str]:
    """The ids a ``channel`` argument may mean: an id itself, or the id of a channel name
    (with or without ``#``) already posted to."""
    names = {channel, channel.removeprefix("#"), "#" + channel.removeprefix("#")}
    return {channel} | {slack.channel_ids[n] for n in names if n in slack.channel_ids}


def channel_name(slack: SlackState, message: dict) -> str:
    """The channel's name without ``#``: as posted, or (posted by id) any name for that id."""
    given = str(message.get("channel_name") or "")
    if given != message["channel"]:
        return given.removeprefix("#")
    names = [n for n, i in slack.channel_ids.items() if i == message["channel"] and n != i]
    return names[0].removeprefix("#") if names else message["channel"]


def find(slack: SlackState, action_id: str, ts: str | None = None,
         channel: str | None = None) -> Target:
    """The button ``action_id`` on the message ``ts`` (in ``channel`` when given), else on the
    most recent posted message (top-level or reply) that has it; NoSuchButton otherwise."""
    ids = _channel_ids(slack, channel) if channel else None
    messages = [m for m in reversed(slack.messages)
                if (ts is None or m["ts"] == ts) and (ids is None or m["channel"] in ids)]
    for message in messages:
        for index, block, button in buttons(message):
            if button.get("action_id") == action_id:
                return Target(message, index, block, button)
    where = f" in {channel}" if channel else ""
    if ts is not None and not messages:
        raise NoSuchButton(f"no posted message has ts {ts}{where}")
    if ts is not None:
        raise NoSuchButton(f"the message {ts}{where} has no button with action_id {action_id!r}")
    raise NoSuchButton(f"no posted message{where} has a button with action_id {action_id!r}")


def message_json(message: dict) -> dict:
    """The message as a click payload carries it."""
    out = {"type": "message", "ts": message["ts"], "text": message["text"],
           "blocks": message["blocks"], "bot_id": "BSIM0001"}
    if message.get("thread_ts"):
        out["thread_ts"] = message["thread_ts"]
    return out


@dataclass(frozen=True)
class Clicker:
    """Who clicks and the click's fresh ids."""

    user_id: str
    user_name: str
    trigger_id: str
    response_url: str
    now: float


def payload(slack: SlackState, target: Target, action_id: str, value: str | None,
            who: Clicker) -> dict:
    """The ``block_actions`` payload Slack sends for a click on ``target``. ``value`` is left
    out when None, as Slack leaves it out for a button without one."""
    message, channel = target.message, target.message["channel"]
    container = {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                 "is_ephemeral": False}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    text = target.button.get("text") or {}
    action = {"action_id": action_id, "block_id": target.block_id, "type": "button",
              "action_ts": slack_ts(who.now),
              "text": {"type": text.get("type", "plain_text"), "text": text.get("text", "")}}
    if value is not None:
        action["value"] = value
    return {"type": "block_actions",
            "user": {"id": who.user_id, "username": who.user_name, "name": who.user_name,
                     "team_id": TEAM["id"]},
            "api_app_id": APP_ID, "token": VERIFICATION_TOKEN, "container": container,
            "trigger_id": who.trigger_id, "team": dict(TEAM),
            "channel": {"id": channel, "name": channel_name(slack, message)},
            "message": message_json(message), "response_url": who.response_url,
            "actions": [action]}


class SlackClicks:
    """The clicks of one simulator and the responses posted to their ``response_url``.
    ``base_url`` (the server's, set once it listens) prefixes every ``response_url``."""

    def __init__(self, state: SimState, slack: SlackState, *, timeout: float = 10.0) -> None:
        self.state, self.slack, self.timeout = state, slack, timeout
        self.base_url = ""
        self.clicks: list[Click] = []
        self.responses: list[SlackResponse] = []
        self._issued: dict[str, Click] = {}   # response_url id -> the click that carried it

    async def click(self, action_id: str, *, url: str, value: str | None = None,
                    ts: str | None = None, channel: str | None = None,
                    user_id: str = "U0SIMUSER", user_name: str = "sim.user",
                    timestamp: int | None = None, secret: str | None = None) -> tuple[int, str]:
        """Click the button ``action_id`` (see :func:`find`; NoSuchButton when there is none)
        and POST the signed payload to ``url``; the app's status and body text.
        ``value`` defaults to the button's. ``timestamp`` (default: the clock now) and
        ``secret`` (default: the signing secret) let tests send stale or forged clicks.
        Raises ``outbound.Unreachable`` (after recording the click) when ``url`` is."""
        target = find(self.slack, action_id, ts, channel)
        value = target.button.get("value") if value is None else value
        now, response_id = self.state.clock(), secrets.token_hex(12)
        who = Clicker(user_id, user_name, _trigger_id(now),
                      f"{self.base_url}/slack/response/{response_id}", now)
        sent = payload(self.slack, target, action_id, value, who)
        body = urlencode({"payload": json.dumps(sent, separators=(",", ":"))}).encode()
        stamp = int(now) if timestamp is None else timestamp
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Request-Timestamp": str(stamp),
                   "X-Slack-Signature": signature(secret or self.state.slack_signing_secret,
                                                  stamp, body),
                   "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        record = Click(action_id, value, url, target.message["channel"], target.message["ts"],
                       user_id, who.trigger_id, who.response_url, sent, at=now)
        self.clicks.append(record)
        self._issued[response_id] = record
        try:
            record.status, text = await outbound.post(url, body, headers, self.timeout)
        except outbound.Unreachable as exc:
            record.error = f"unreachable: {exc}"
            raise
        record.body = text[:outbound.BODY_LIMIT]
        return record.status, text

    def respond(self, response_id: str, body: dict) -> SlackResponse:
        """Keep what the app posted to the ``response_url`` ending in ``response_id``."""
        issued = self._issued.get(response_id)
        response = SlackResponse(response_id, body, self.state.clock())
        if issued is not None:
            response.action_id, response.message_ts = issued.action_id, issued.message_ts
            response.channel = issued.channel
        self.responses.append(response)
        return response

    def clear(self) -> None:
        self.clicks.clear()
        self.responses.clear()
        self._issued.clear()


def _trigger_id(now: float) -> str:
    """A fresh trigger_id in Slack's shape (``<digits>.<digits>.<hex>``): unique per click, so
    an app that deduplicates clicks on it sees every simulated click as new."""
    return f"{int(now)}.{secrets.randbelow(10**9):09d}.{secrets.token_hex(16)}"


def add_routes(app: web.Application, clicks: SlackClicks) -> None:
    """Mount ``POST /slack/response/{id}``: answers ``ok`` (text) to a JSON object, as Slack
    does; 400 ``invalid_payload`` to anything else."""

    async def response_url(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        clicks.respond(request.match_info["id"], body)
        return web.Response(text="ok")

    app.router.add_post("/slack/response/{id}", response_url)
