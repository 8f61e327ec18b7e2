"""Who may post alerts: a bearer token or basic auth, exactly as Alertmanager's ``http_config``
sends them (``authorization: {credentials_file}`` or ``basic_auth``).

Secrets come from ``CALLWATCH_RECEIVER_TOKEN`` / ``CALLWATCH_RECEIVER_USERNAME`` /
``CALLWATCH_RECEIVER_PASSWORD`` (each also as ``..._FILE``); they are registered with the log
scrubber and compared in constant time. With none set, every request is refused unless
``CALLWATCH_RECEIVER_AUTH=none`` says so explicitly (local experiments only).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Mapping

from callwatch.logs import register_secret
from callwatch.secrets import read_secret


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str | None = None
    password: str | None = None
    disabled: bool = False

    @property
    def configured(self) -> bool:
        return self.disabled or bool(self.token) or bool(self.username and self.password)

    def __repr__(self) -> str:  # never print a secret by accident
        return (f"Credentials(token={'set' if self.token else 'unset'}, "
                f"basic={'set' if self.username else 'unset'}, disabled={self.disabled})")


def load_credentials(environ: Mapping[str, str]) -> Credentials:
    """Read the receiver's credentials; raises callwatch.secrets.SecretError for a bad file."""
    token = read_secret(environ, "CALLWATCH_RECEIVER_TOKEN")
    username = read_secret(environ, "CALLWATCH_RECEIVER_USERNAME")
    password = read_secret(environ, "CALLWATCH_RECEIVER_PASSWORD")
    for secret in (token, password):
        register_secret(secret)
    disabled = environ.get("CALLWATCH_RECEIVER_AUTH", "").lower() == "none"
    return Credentials(token, username, password, disabled)


def authorized(header: str | None, credentials: Credentials) -> bool:
    """Whether the ``Authorization`` header carries the configured token or user/password."""
    if credentials.disabled:
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and credentials.token:
        return _same(value, credentials.token)
    if scheme.lower() == "basic" and credentials.username and credentials.password:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        # evaluate both comparisons so the time does not tell which one failed
        ok_user = _same(user, credentials.username)
        ok_password = _same(password, credentials.password)
        return bool(sep) and ok_user and ok_password
    return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
