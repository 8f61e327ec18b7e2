"""Who may call callwatch's HTTP API: the credentials, read once from the environment, and the
one check of an ``Authorization`` header against them. Stdlib only: the CLI imports it.

| variable | meaning |
|---|---|
| ``CALLWATCH_RECEIVER_TOKEN[_FILE]`` | the bearer token (Alertmanager's, the CLI's, curl's) |
| ``CALLWATCH_RECEIVER_USERNAME[_FILE]``, ``..._PASSWORD[_FILE]`` | basic auth instead |
| ``CALLWATCH_RECEIVER_AUTH=none`` | accept calls without credentials (local experiments only) |
| ``CALLWATCH_METRICS_TOKEN[_FILE]`` | a bearer token ``/metrics`` asks for (off by default) |

Headers are checked exactly as Alertmanager's ``http_config`` sends them (a bearer token or
basic auth), compared in constant time. Secrets are registered with the log scrubber as they
are read.

A calendar feed (``/oncall/{schedule}.ics``) is subscribed to by apps that cannot send a
header, so it also takes a feed key in its URL: ``feed_key(token, schedule, contact)``, an
HMAC-SHA256 of ``ics:<schedule>:<contact>`` under the receiver token. The key opens that one
feed and nothing else, tells nothing about the token, and changes when the token is rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from callwatch.logs import register_secret
from callwatch.secrets import read_secret


@dataclass(frozen=True)
class Credentials:
    """What callers of the API must present (a bearer token or basic auth)."""

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
    """The API's credentials; raises callwatch.secrets.SecretError for a bad file."""
    token = read_secret(environ, "CALLWATCH_RECEIVER_TOKEN")
    username = read_secret(environ, "CALLWATCH_RECEIVER_USERNAME")
    password = read_secret(environ, "CALLWATCH_RECEIVER_PASSWORD")
    for secret in (token, password):
        register_secret(secret)
    disabled = environ.get("CALLWATCH_RECEIVER_AUTH", "").lower() == "none"
    return Credentials(token, username, password, disabled)


def load_metrics_token(environ: Mapping[str, str]) -> str | None:
    """``CALLWATCH_METRICS_TOKEN[_FILE]``: the bearer token ``/metrics`` asks for, or None
    (``/metrics`` open, the default); SecretError for a bad file."""
    token = read_secret(environ, "CALLWATCH_METRICS_TOKEN")
    register_secret(token)
    return token


def authorized(header: str | None, credentials: Credentials) -> bool:
    """Whether the ``Authorization`` header carries the configured token or user/password."""
    if credentials.disabled:
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and credentials.token:
        return same(value, credentials.token)
    if scheme.lower() == "basic" and credentials.username and credentials.password:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        # evaluate both comparisons so the time does not tell which one failed
        ok_user = same(user, credentials.username)
        ok_password = same(password, credentials.password)
        return bool(sep) and ok_user and ok_password
    return False


def authorization(credentials: Credentials) -> str | None:
    """The ``Authorization`` value a client holding ``credentials`` sends (the bearer token
    when there is one, else basic auth), or None when there is nothing to send."""
    if credentials.token:
        return f"Bearer {credentials.token}"
    if credentials.username and credentials.password:
        pair = f"{credentials.username}:{credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


def feed_key(token: str, schedule: str, contact: str) -> str:
    """The key that opens one contact's calendar feed of one schedule (module docstring):
    43 URL-safe characters."""
    digest = hmac.new(token.encode("utf-8"), f"ics:{schedule}:{contact}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same(given: str, expected: str) -> bool:
    """``given == expected`` in constant time."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
