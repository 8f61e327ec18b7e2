"""The console's sessions and CSRF tokens: signed, expiring, stateless.

Signing in with the receiver token (``CALLWATCH_RECEIVER_TOKEN``, compared in constant time)
gives the browser one cookie, ``callwatch_console``: a random session id, its expiry and the
name the person gave, as base64url JSON, then ``.`` and an HMAC-SHA256 of that under the
session key. The session key is derived from the token (``session_key``): the token itself is
never in the cookie, a URL or a log line, and rotating the token ends every session. The
cookie is HttpOnly, SameSite=Strict, Path=/ui/, Secure when ``CALLWATCH_PUBLIC_URL`` is https,
and lasts ``SESSION_SECONDS``.

Every form that changes something carries the session's CSRF token (``csrf_token``: an HMAC
of the session id under the same key, so it is per-session and needs no storage); a POST
without it, or with another one, is refused (``csrf_ok``).

Sessions are not stored: signing out deletes the browser's cookie, and a copy of a cookie
taken before that stays valid until it expires (or the token is rotated).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from callwatch.credentials import same

COOKIE = "callwatch_console"
COOKIE_PATH = "/ui/"
SESSION_SECONDS = 12 * 3600         # one night on call, with margin
MAX_NAME = 100
_KEY_LABEL = b"callwatch console session v1"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its session id, when it expires (Unix seconds) and who signed in
    (the name recorded on what they do)."""

    id: str
    expires: float
    name: str


def session_key(token: str) -> bytes:
    """The key that signs sessions and CSRF tokens, derived from the receiver token."""
    return hmac.new(token.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, purpose: str, text: str) -> str:
    return _b64(hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())


def issue(key: bytes, name: str, now: float) -> tuple[str, Session]:
    """A new session for ``name`` from ``now``: (the cookie's value, the session)."""
    session = Session(secrets.token_urlsafe(18), float(int(now + SESSION_SECONDS)), name)
    payload = _b64(json.dumps([session.id, int(session.expires), name],
                              separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(key, 'session', payload)}", session


def read(key: bytes, value: str | None, now: float) -> Session | None:
    """The session a cookie value carries, if its signature holds and it has not expired."""
    if not value or len(value) > 1024 or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not same(signature, _sign(key, "session", payload)):
        return None
    try:
        session_id, expires, name = json.loads(_unb64(payload))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        return None
    if not (isinstance(session_id, str) and isinstance(expires, int) and isinstance(name, str)):
        return None
    if expires <= now:
        return None
    return Session(session_id, float(expires), name)


def csrf_token(key: bytes, session: Session) -> str:
    """The session's CSRF token (the hidden ``csrf`` field of every form)."""
    return _sign(key, "csrf", session.id)


def csrf_ok(key: bytes, session: Session, given: str | None) -> bool:
    """Whether a form's ``csrf`` field is this session's token (constant time)."""
    return bool(given) and same(str(given), csrf_token(key, session))
