"""SMS on the simulated Twilio and Telnyx: messages the app sends, replies people send back.

Sending, as the real SDKs call it:

- Twilio ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (basic auth as for Calls),
  form ``To``, ``From``, ``Body``, optional ``StatusCallback``: 201 with a queued Message
  resource (``sid`` ``SM…``); 400 Twilio errors 21604 / 21603 / 21602 for a missing ``To`` /
  ``From`` / ``Body``.
- Telnyx ``POST /v2/messages`` (Bearer key; ``AsyncTelnyx.messages.send``), JSON ``from``,
  ``to``, ``text``, optional ``messaging_profile_id``, ``webhook_url``: 200 ``{"data": <an
  outbound message, to status queued>}``; 422 when ``to``, ``from`` or ``text`` is missing.

Both record a :class:`SentSms`. No delivery-status callback is ever sent: the message stays
``queued``. Injected faults (service ``twilio``/``telnyx``) apply as to calls.

Replying (:meth:`Sms.reply`; ``sms_replies.py`` builds the requests): a person texts back, and
the provider POSTs the inbound message to the app, signed as it signs everything. The reply goes
by default to the number that last texted that person through that provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator import outbound, sms_replies
from simulator import telnyx as telnyx_api
from simulator import twilio as twilio_api
from simulator.state import SimState
from simulator.times import iso_micro, rfc2822

PROVIDERS = ("twilio", "telnyx")
# field -> (Twilio error code, message) for a send missing it, in the order Twilio checks
TWILIO_REQUIRED = {"To": (21604, "A 'To' phone number is required."),
                   "From": (21603, "A 'From' phone number is required."),
                   "Body": (21602, "Message body is required.")}


class BadSms(ValueError):
    """A reply the simulator refuses; ``code`` names the problem for the control API
    (``unknown_provider``, ``nothing_to_reply_to``, ``invalid_key``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass
class SentSms:
    """One SMS the app sent. ``callback``: its ``StatusCallback`` / ``webhook_url`` (kept,
    never called)."""

    provider: str
    id: str
    to: str
    from_: str
    text: str
    at: float
    callback: str | None = None

    def as_dict(self) -> dict:
        return {("from" if k == "from_" else k): v for k, v in asdict(self).items()}


@dataclass
class SmsReply:
    """One inbound SMS delivered to the app: what was sent (``payload``: Twilio's form fields
    or Telnyx's event envelope) and what the app answered (``status`` None: unreachable)."""

    provider: str
    id: str
    to: str
    from_: str
    text: str
    url: str
    payload: dict = field(repr=False)
    status: int | None = None
    body: str = ""
    error: str | None = None
    at: float = 0.0

    def as_dict(self) -> dict:
        return {("from" if k == "from_" else k): v for k, v in asdict(self).items()}


class Sms:
    """The SMS of one simulator: sent messages and delivered replies, oldest first."""

    def __init__(self, state: SimState, telnyx_key: Ed25519PrivateKey, *,
                 timeout: float = 10.0) -> None:
        self.state, self.telnyx_key, self.timeout = state, telnyx_key, timeout
        self.sent: list[SentSms] = []
        self.replies: list[SmsReply] = []

    def messages(self, provider: str | None = None) -> list[SentSms]:
        return [m for m in self.sent if provider in (None, m.provider)]

    def replied(self, provider: str | None = None) -> list[SmsReply]:
        return [r for r in self.replies if provider in (None, r.provider)]

    def reply_to(self, provider: str, from_: str) -> str:
        """The number a person at ``from_`` replies to: the sender of the most recent SMS
        ``provider`` delivered to them; BadSms when there is none."""
        for message in reversed(self.sent):
            if message.provider == provider and message.to == from_:
                return message.from_
        raise BadSms("nothing_to_reply_to", f"no SMS was sent to {from_} through {provider}; "
                                            "give the number replied to ('to')")

    async def reply(self, provider: str, from_: str, text: str, *, url: str,
                    to: str | None = None, timestamp: int | None = None,
                    secret_or_key: str | Ed25519PrivateKey | None = None) -> tuple[int, str]:
        """Deliver an SMS from ``from_`` to ``to`` (default: :meth:`reply_to`) to the app at
        ``url``, signed as ``provider`` signs it; the app's status and body text.

        ``timestamp`` (Telnyx only; Twilio signatures carry no time) is the signed
        ``telnyx-timestamp``. ``secret_or_key`` signs instead of the simulator's credential
        (a Twilio auth token string, a Telnyx Ed25519 private key) to forge. BadSms for an
        unknown provider, nothing to reply to or a key of the wrong kind;
        ``outbound.Unreachable`` (after recording the reply) when ``url`` is.
        """
        if provider not in PROVIDERS:
            raise BadSms("unknown_provider", f"unknown provider {provider!r}; "
                                             f"one of {', '.join(PROVIDERS)}")
        to = to or self.reply_to(provider, from_)
        inbound = sms_replies.Inbound(from_, to, text, url, self.state.clock())
        request = self._build(provider, inbound, timestamp, secret_or_key)
        record = SmsReply(provider, request.id, to, from_, text, url, request.payload,
                          at=inbound.now)
        self.replies.append(record)
        try:
            record.status, body = await outbound.post(url, request.body, request.headers,
                                                      self.timeout)
        except outbound.Unreachable as exc:
            record.error = f"unreachable: {exc}"
            raise
        record.body = body[:outbound.BODY_LIMIT]
        return record.status, body

    def _build(self, provider: str, inbound: sms_replies.Inbound, timestamp: int | None,
               secret_or_key: str | Ed25519PrivateKey | None) -> sms_replies.Request:
        if provider == "twilio":
            if secret_or_key is not None and not isinstance(secret_or_key, str):
                raise BadSms("invalid_key", "a Twilio reply is signed with an auth token (str)")
            return sms_replies.twilio_inbound(
                inbound, self.state.twilio_account_sid,
                secret_or_key or self.state.twilio_auth_token, self.state.new_id("SM", 34))
        if secret_or_key is not None and not isinstance(secret_or_key, Ed25519PrivateKey):
            raise BadSms("invalid_key", "a Telnyx reply is signed with an Ed25519PrivateKey")
        return sms_replies.telnyx_inbound(inbound, secret_or_key or self.telnyx_key, timestamp)

    def clear(self) -> None:
        self.sent.clear()
        self.replies.clear()


def twilio_message(sid: str, account: str, form: Mapping[str, str], now: float) -> dict:
    """A queued Message resource as Twilio renders it (strings and RFC 2822 dates)."""
    uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
    return {"sid": sid, "account_sid": account, "to": form["To"], "from": form["From"],
            "body": form["Body"], "status": "queued", "direction": "outbound-api",
            "date_created": rfc2822(now), "date_updated": rfc2822(now), "date_sent": None,
            "num_segments": "1", "num_media": "0", "price": None, "price_unit": "USD",
            "messaging_service_sid": None, "uri": uri, "error_code": None,
            "error_message": None, "api_version": "2010-04-01",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")}}


def telnyx_message(body: Mapping, now: float) -> dict:
    """An outbound message as Telnyx answers a send (``to`` status queued)."""
    stamp = iso_micro(now)
    return {"record_type": "message", "id": str(uuid.uuid4()), "direction": "outbound",
            "type": "SMS", "from": {"phone_number": body["from"]},
            "to": [{"phone_number": body["to"], "status": "queued"}], "text": body["text"],
            "media": [], "messaging_profile_id": body.get("messaging_profile_id"),
            "webhook_url": body.get("webhook_url"),
            "webhook_failover_url": body.get("webhook_failover_url"), "parts": 1,
            "encoding": "GSM-7", "tags": [], "cost": None, "created_at": stamp,
            "received_at": stamp, "sent_at": None, "completed_at": None, "valid_until": None,
            "errors": []}


def add_routes(app: web.Application, state: SimState, sms: Sms) -> None:
    """Mount Twilio's ``Messages.json`` and Telnyx's ``/v2/messages`` on ``app``."""

    async def twilio_send(request: web.Request) -> web.Response:
        if (denied := twilio_api.check_auth(request, state)) is not None:
            return denied
        form = {k: str(v) for k, v in (await request.post()).items()}
        for name, (code, message) in TWILIO_REQUIRED.items():
            if not form.get(name):
                return twilio_api.twilio_error(400, code, message)
        now = state.clock()
        resource = twilio_message(state.new_id("SM", 34), state.twilio_account_sid, form, now)
        sms.sent.append(SentSms("twilio", resource["sid"], form["To"], form["From"],
                                form["Body"], now, form.get("StatusCallback") or None))
        return web.json_response(resource, status=201)

    async def telnyx_send(request: web.Request) -> web.Response:
        if (denied := telnyx_api.check_auth(request, state)) is not None:
            return denied
        body = await telnyx_api.json_body(request)
        if isinstance(body, web.Response):
            return body
        for name in ("to", "from", "text"):
            if not isinstance(body.get(name), str) or not body[name]:
                return telnyx_api.telnyx_error(422, "10015", "Invalid parameter",
                                               f"The '{name}' parameter is required.",
                                               f"/{name}")
        now = state.clock()
        data = telnyx_message(body, now)
        sms.sent.append(SentSms("telnyx", data["id"], body["to"], body["from"], body["text"],
                                now, body.get("webhook_url") or None))
        return web.json_response({"data": data})

    app.router.add_post(twilio_api.PREFIX + "/Messages.json", twilio_send)
    app.router.add_post("/v2/messages", telnyx_send)
