"""The receiver's settings from the environment (12-factor), read once in ``setup_receiver``.

| variable | meaning (default) |
|---|---|
| ``CALLWATCH_STORE_URL`` | ``sqlite:///abs/path.db``, ``sqlite:rel.db``, ``postgresql://...`` (sqlite:callwatch-receiver.db) |
| ``CALLWATCH_RECEIVER_TOKEN[_FILE]`` | bearer token Alertmanager sends |
| ``CALLWATCH_RECEIVER_USERNAME[_FILE]``, ``..._PASSWORD[_FILE]`` | basic auth instead |
| ``CALLWATCH_RECEIVER_AUTH=none`` | accept unauthenticated posts (local experiments only) |
| ``CALLWATCH_PUBLIC_URL`` | base of the incident links in messages ("") |
| ``CALLWATCH_NOTIFIER_FACTORY`` | ``module:function(policy, environ) -> {channel: Notifier}`` (receiver.notify.registry:build_notifiers) |
| ``CALLWATCH_OUTBOX_LEASE_SECONDS`` | claim lifetime; a dead worker's rows are retaken after it (60) |
| ``CALLWATCH_TIMER_LEASE_SECONDS`` | escalation timer claim lifetime; a dead replica's due step is fired by another after it (30) |
| ``CALLWATCH_OUTBOX_POLL_SECONDS`` | dispatcher poll interval when idle (1) |
| ``CALLWATCH_RETRY_BASE_SECONDS`` / ``..._MAX_SECONDS`` | retry backoff: base * 2^(n-1), capped (5 / 300) |
| ``CALLWATCH_OUTBOX_MAX_AGE_SECONDS`` | a row still failing this long after creation is abandoned (86400) |
| ``CALLWATCH_ALERTS_MAX_BODY`` | largest ``POST /alerts`` body in bytes (8 MiB: ~16,000 alerts) |
| ``CALLWATCH_WORKER_ID`` | this replica's claim name (hostname-pid-random) |
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Mapping

from callwatch.logs import register_secret
from callwatch.secrets import read_secret
from receiver.store import DEFAULT_STORE_URL

DEFAULT_NOTIFIER_FACTORY = "receiver.notify.registry:build_notifiers"


@dataclass(frozen=True)
class DispatchSettings:
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    max_age_seconds: float = 86400.0
    batch_size: int = 200
    concurrency: int = 16


@dataclass(frozen=True)
class ReceiverConfig:
    store_url: str
    public_url: str
    notifier_factory: str
    worker_id: str
    dispatch: DispatchSettings
    alerts_max_body: int = 8 * 1024 * 1024
    timer_lease_seconds: float = 30.0


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def load_config(environ: Mapping[str, str]) -> ReceiverConfig:
    """The receiver settings; ValueError naming the variable for a bad value."""
    dispatch = DispatchSettings(
        lease_seconds=_number(environ, "CALLWATCH_OUTBOX_LEASE_SECONDS", 60.0),
        poll_seconds=_number(environ, "CALLWATCH_OUTBOX_POLL_SECONDS", 1.0),
        retry_base_seconds=_number(environ, "CALLWATCH_RETRY_BASE_SECONDS", 5.0),
        retry_max_seconds=_number(environ, "CALLWATCH_RETRY_MAX_SECONDS", 300.0),
        max_age_seconds=_number(environ, "CALLWATCH_OUTBOX_MAX_AGE_SECONDS", 86400.0),
    )
    worker = environ.get("CALLWATCH_WORKER_ID") or (
        f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    return ReceiverConfig(
        store_url=environ.get("CALLWATCH_STORE_URL") or DEFAULT_STORE_URL,
        public_url=environ.get("CALLWATCH_PUBLIC_URL", ""),
        notifier_factory=environ.get("CALLWATCH_NOTIFIER_FACTORY") or DEFAULT_NOTIFIER_FACTORY,
        worker_id=worker,
        dispatch=dispatch,
        alerts_max_body=int(_number(environ, "CALLWATCH_ALERTS_MAX_BODY", 8 * 1024 * 1024)),
        timer_lease_seconds=_number(environ, "CALLWATCH_TIMER_LEASE_SECONDS", 30.0),
    )


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
