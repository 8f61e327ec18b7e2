"""The control API for people who click and text: Slack button clicks and SMS replies.

- ``POST /control/slack/click`` ``{"url", "action_id", "value"?, "ts"?, "channel"?,
  "user_id"?, "user_name"?}`` → 200 ``{"status", "body"}``: the app's answer to the signed
  click (``simulator.slack_clicks``). 400 ``missing_field`` / ``invalid_field`` /
  ``no_such_message``.
- ``GET /control/slack`` → ``{"messages", "clicks", "responses"}``: posted messages (as stored,
  updates applied), clicks sent, and what the app posted to their ``response_url``.
- ``POST /control/sms/reply`` ``{"provider", "from", "text", "url", "to"?}`` → 200
  ``{"status", "body"}``: the app's answer to the signed inbound SMS (``simulator.sms``). 400
  ``missing_field`` / ``invalid_field`` / ``unknown_provider`` / ``nothing_to_reply_to``.
- ``GET /control/sms`` (optional ``?provider=``) → ``{"messages", "replies"}``, oldest first.

An app that cannot be reached is 502 ``unreachable`` (the click or reply is still recorded).
"""

from __future__ import annotations

from aiohttp import web

from simulator import outbound
from simulator.control import Control, control_error, json_object
from simulator.slack_clicks import NoSuchButton
from simulator.sms import BadSms

CLICK_FIELDS = {"url": True, "action_id": True, "value": False, "ts": False, "channel": False,
                "user_id": False, "user_name": False}        # name -> required
REPLY_FIELDS = {"provider": True, "from": True, "text": True, "url": True, "to": False}


def _fields(body: dict, spec: dict[str, bool]) -> dict | web.Response:
    """The known fields of ``body`` (strings; required ones non-empty), or the 400 naming the
    first one that is missing or not a string."""
    for name, required in spec.items():
        if required and not body.get(name):
            return control_error(400, "missing_field", f"'{name}' is required")
        if body.get(name) is not None and not isinstance(body[name], str):
            return control_error(400, "invalid_field", f"'{name}' must be a string")
    return {name: body[name] for name in spec if body.get(name) is not None}


def _answer(status: int, body: str) -> web.Response:
    return web.json_response({"status": status, "body": body})


class MessagesApi:
    """Handlers over one :class:`Control` whose ``clicks`` and ``sms`` are set."""

    def __init__(self, control: Control) -> None:
        self.control = control

    async def click(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        given = _fields(body, CLICK_FIELDS)
        if isinstance(given, web.Response):
            return given
        if self.control.clicks is None:
            return control_error(409, "no_slack_clicks", "this simulator sends no clicks")
        action_id, url = given.pop("action_id"), given.pop("url")
        try:
            return _answer(*await self.control.clicks.click(action_id, url=url, **given))
        except NoSuchButton as exc:
            return control_error(400, exc.code, str(exc))
        except outbound.Unreachable as exc:
            return control_error(502, "unreachable", str(exc))

    async def slack(self, request: web.Request) -> web.Response:
        clicks = self.control.clicks
        return web.json_response({
            "messages": self.control.slack.messages,
            "clicks": [c.as_dict() for c in (clicks.clicks if clicks else [])],
            "responses": [r.as_dict() for r in (clicks.responses if clicks else [])]})

    async def reply(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        given = _fields(body, REPLY_FIELDS)
        if isinstance(given, web.Response):
            return given
        if self.control.sms is None:
            return control_error(409, "no_sms", "this simulator carries no SMS")
        try:
            return _answer(*await self.control.sms.reply(
                given["provider"], given["from"], given["text"], url=given["url"],
                to=given.get("to")))
        except BadSms as exc:
            return control_error(400, exc.code, str(exc))
        except outbound.Unreachable as exc:
            return control_error(502, "unreachable", str(exc))

    async def sms(self, request: web.Request) -> web.Response:
        sms, provider = self.control.sms, request.query.get("provider")
        return web.json_response({
            "messages": [m.as_dict() for m in (sms.messages(provider) if sms else [])],
            "replies": [r.as_dict() for r in (sms.replied(provider) if sms else [])]})


def add_routes(app: web.Application, control: Control) -> None:
    """Mount the click and SMS control paths on ``app``."""
    api = MessagesApi(control)
    app.router.add_post("/control/slack/click", api.click)
    app.router.add_get("/control/slack", api.slack)
    app.router.add_post("/control/sms/reply", api.reply)
    app.router.add_get("/control/sms", api.sms)
