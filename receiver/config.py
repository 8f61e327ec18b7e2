"""Every environment variable the receiver reads, read once in ``load_config`` (12-factor).

| variable | meaning (default) |
|---|---|
| ``CALLWATCH_STORE_URL`` | the store, a URL as below (sqlite:callwatch-receiver.db) |
| ``CALLWATCH_RECEIVER_TOKEN[_FILE]`` | the API's bearer token (``callwatch.credentials``) |
| ``CALLWATCH_RECEIVER_USERNAME[_FILE]``, ``..._PASSWORD[_FILE]`` | basic auth instead |
| ``CALLWATCH_RECEIVER_AUTH=none`` | accept calls without credentials (experiments only) |
| ``CALLWATCH_PUBLIC_URL`` | base of the incident links in messages ("") |
| ``CALLWATCH_EXPORTER_URL`` | the exporter, for vendor drafts (``CALLWATCH_PUBLIC_URL``) |
| ``CALLWATCH_PROMETHEUS_URL`` | Prometheus, for ``/alerting/*`` (http://127.0.0.1:9090) |
| ``CALLWATCH_ALERTMANAGER_URL`` | Alertmanager, for ``/alerting/health`` (http://127.0.0.1:9093) |
| ``PAGERDUTY_WEBHOOK_SECRET[_FILE]`` | PagerDuty v3 webhook secrets, comma-separated in rotation |
| ``SLACK_SIGNING_SECRET[_FILE]`` | verifies Slack's button clicks (``/slack/interactions``) |
| ``TWILIO_AUTH_TOKEN[_FILE]`` | verifies ``X-Twilio-Signature`` on call callbacks |
| ``TELNYX_PUBLIC_KEY`` | verifies the Ed25519 signature of Telnyx call events (base64) |
| ``TELNYX_API_KEY[_FILE]``, ``TELNYX_BASE_URL`` | Call Control commands on a two-way call |
| ``CALLWATCH_NOTIFIER_FACTORY`` | as below (receiver.notify.registry:build_notifiers) |
| ``CALLWATCH_OUTBOX_LEASE_SECONDS`` | claim lifetime, renewed while held: a dead holder's (10) |
| ``CALLWATCH_TIMER_LEASE_SECONDS`` | escalation timer claim lifetime, as above (10) |
| ``CALLWATCH_OUTBOX_POLL_SECONDS`` | dispatcher poll interval when idle (1) |
| ``CALLWATCH_RETRY_BASE_SECONDS``, ``..._MAX_SECONDS`` | backoff base * 2^(n-1), capped (5 / 300) |
| ``CALLWATCH_OUTBOX_MAX_AGE_SECONDS`` | abandon a row failing this long after creation (86400) |
| ``CALLWATCH_ALERTS_MAX_BODY`` | largest ``POST /alerts`` body in bytes (8 MiB: ~16,000 alerts) |
| ``CALLWATCH_WORKER_ID`` | this replica's claim name (hostname-pid-random) |
| ``CALLWATCH_WATCHDOG`` | ``on``: the dead man's switch pages when the heartbeat stops (on) |
| ``CALLWATCH_HANDOFF_NOTICES`` | ``on``: tell each person taking over an on-call schedule (on) |
| ``CALLWATCH_HANDOFF_POLL_SECONDS`` | how often handoffs and schedule gaps are looked at (30) |

The store URL is ``sqlite:///abs/path.db``, ``sqlite:rel.db`` or ``postgresql://...``. The
exporter URL is where the exporter answers ``/telephony/providers/{p}/health``. The notifier
factory is ``module:function(policy, environ) -> {channel: Notifier}``. A dead replica's due
escalation step is fired by another once the timer lease runs out; a live one renews its
claims (``receiver.services.leases``), so a slow send is never taken over. A send is given up
(and retried) after ``DispatchSettings.send_timeout_seconds``. ``CALLWATCH_WATCHDOG=off`` is
for a receiver no Prometheus sends the heartbeat to (tests, experiments): with the switch on,
such a receiver would page that its alerting pipeline is silent. ``CALLWATCH_HANDOFF_NOTICES=off``
stops the handoff messages only; the schedule gap gauge is kept.

Two sets of variables are read elsewhere, because their names are not fixed here: the notifier
factory reads its channels' secrets (``receiver/notify/registry.py``), and vendor drafts read
the account variables the policy names (``vendors.<provider>.account``). ``environ`` keeps the
environment for both. Secrets are registered with the log scrubber as they are read.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from callwatch.credentials import Credentials, load_credentials
from callwatch.logs import register_secret
from callwatch.secrets import read_secret
from callwatch.signatures import load_telnyx_public_key
from receiver.store import DEFAULT_STORE_URL

DEFAULT_NOTIFIER_FACTORY = "receiver.notify.registry:build_notifiers"
DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"


@dataclass(frozen=True)
class DispatchSettings:
    lease_seconds: float = 10.0
    send_timeout_seconds: float = 45.0  # one notifier call, whatever the lease (it is renewed)
    poll_seconds: float = 1.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    max_age_seconds: float = 86400.0
    batch_size: int = 200
    concurrency: int = 16


@dataclass(frozen=True)
class VoiceSettings:
    """What the call callbacks need: the providers' verification keys, and Telnyx's API key
    for the commands that speak and listen on a call."""

    twilio_auth_token: str | None = field(default=None, repr=False)
    telnyx_public_key: str | None = None
    telnyx_api_key: str | None = field(default=None, repr=False)
    telnyx_base_url: str = "https://api.telnyx.com/v2"


@dataclass(frozen=True)
class ReceiverConfig:
    store_url: str
    public_url: str
    notifier_factory: str
    worker_id: str
    dispatch: DispatchSettings
    credentials: Credentials = field(default_factory=Credentials)
    exporter_url: str = ""
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    alertmanager_url: str = DEFAULT_ALERTMANAGER_URL
    pagerduty_webhook_secrets: tuple[str, ...] = ()
    slack_signing_secret: str | None = field(default=None, repr=False)
    voice: VoiceSettings = VoiceSettings()
    alerts_max_body: int = 8 * 1024 * 1024
    timer_lease_seconds: float = 10.0
    watchdog: bool = True                 # the dead man's switch runs (CALLWATCH_WATCHDOG)
    handoff_notices: bool = True          # CALLWATCH_HANDOFF_NOTICES
    handoff_poll_seconds: float = 30.0    # CALLWATCH_HANDOFF_POLL_SECONDS
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # never print a secret by accident
        return (f"ReceiverConfig(store_url=..., worker_id={self.worker_id!r}, "
                f"credentials={self.credentials!r}, "
                f"pagerduty_webhook_secrets={len(self.pagerduty_webhook_secrets)})")


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
    """The receiver settings; ValueError naming the variable for a bad value, SecretError
    (callwatch.secrets) for a secret file that cannot be read. Never holds a secret in text."""
    dispatch = DispatchSettings(
        lease_seconds=_number(environ, "CALLWATCH_OUTBOX_LEASE_SECONDS", 10.0),
        poll_seconds=_number(environ, "CALLWATCH_OUTBOX_POLL_SECONDS", 1.0),
        retry_base_seconds=_number(environ, "CALLWATCH_RETRY_BASE_SECONDS", 5.0),
        retry_max_seconds=_number(environ, "CALLWATCH_RETRY_MAX_SECONDS", 300.0),
        max_age_seconds=_number(environ, "CALLWATCH_OUTBOX_MAX_AGE_SECONDS", 86400.0),
    )
    worker = environ.get("CALLWATCH_WORKER_ID") or (
        f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    public_url = environ.get("CALLWATCH_PUBLIC_URL", "")
    return ReceiverConfig(
        store_url=environ.get("CALLWATCH_STORE_URL") or DEFAULT_STORE_URL,
        public_url=public_url,
        notifier_factory=environ.get("CALLWATCH_NOTIFIER_FACTORY") or DEFAULT_NOTIFIER_FACTORY,
        worker_id=worker,
        dispatch=dispatch,
        credentials=load_credentials(environ),
        exporter_url=environ.get("CALLWATCH_EXPORTER_URL") or public_url,
        prometheus_url=environ.get("CALLWATCH_PROMETHEUS_URL", DEFAULT_PROMETHEUS_URL),
        alertmanager_url=environ.get("CALLWATCH_ALERTMANAGER_URL", DEFAULT_ALERTMANAGER_URL),
        pagerduty_webhook_secrets=_webhook_secrets(environ, "PAGERDUTY_WEBHOOK_SECRET"),
        slack_signing_secret=_secret(environ, "SLACK_SIGNING_SECRET"),
        voice=load_voice(environ),
        alerts_max_body=int(_number(environ, "CALLWATCH_ALERTS_MAX_BODY", 8 * 1024 * 1024)),
        timer_lease_seconds=_number(environ, "CALLWATCH_TIMER_LEASE_SECONDS", 10.0),
        watchdog=_switch(environ, "CALLWATCH_WATCHDOG", True),
        handoff_notices=_switch(environ, "CALLWATCH_HANDOFF_NOTICES", True),
        handoff_poll_seconds=_number(environ, "CALLWATCH_HANDOFF_POLL_SECONDS", 30.0),
        environ=dict(environ),
    )


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, got {raw!r}")
    return raw == "on"


def load_voice(environ: Mapping[str, str]) -> VoiceSettings:
    """The call callbacks' keys; SecretError for a secret file that cannot be read,
    ValueError for a public key that is not one."""
    token = read_secret(environ, "TWILIO_AUTH_TOKEN")
    api_key = read_secret(environ, "TELNYX_API_KEY")
    for secret in (token, api_key):
        register_secret(secret)
    public_key = environ.get("TELNYX_PUBLIC_KEY") or None
    if public_key is not None:
        load_telnyx_public_key(public_key)   # ValueError naming the variable, at start-up
    return VoiceSettings(twilio_auth_token=token, telnyx_public_key=public_key,
                         telnyx_api_key=api_key,
                         telnyx_base_url=environ.get("TELNYX_BASE_URL")
                         or VoiceSettings.telnyx_base_url)


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    value = read_secret(environ, name)
    register_secret(value)
    return value


def _webhook_secrets(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated secret list (several during a rotation), each registered."""
    raw = read_secret(environ, name) or ""
    secrets = tuple(part.strip() for part in raw.split(",") if part.strip())
    for secret in secrets:
        register_secret(secret)
    return secrets
