"""Exporter configuration from the environment (12-factor); secrets via ``callwatch.secrets``.

=====================================  ============================================================
``CALLWATCH_PUBLIC_URL``               base URL Twilio calls (behind proxies), for its signatures
``TWILIO_ACCOUNT_SID``                 with ``TWILIO_AUTH_TOKEN``: turns the Twilio pollers on
``TWILIO_AUTH_TOKEN[_FILE]``           verifies ``X-Twilio-Signature`` (HMAC-SHA1); signs probes
``TWILIO_WEBHOOK_SHARED_KEY[_FILE]``   verifies the HMAC-SHA256 SharedKey variant
``TWILIO_WEBHOOK_SHARED_KEY_ID``       optional: the only SharedKey id accepted
``TWILIO_BASE_URL``                    replaces every Twilio API domain (simulator, proxies)
``TELNYX_API_KEY[_FILE]``              turns the Telnyx pollers on
``TELNYX_PUBLIC_KEY[_FILE]``           verifies ``telnyx-signature-ed25519`` (base64, 32 bytes)
``TELNYX_BASE_URL``                    Telnyx API base, including ``/v2``
``TELNYX_CONNECTION_ID``               connection whose active calls are polled
``STATUSPAGE_TWILIO_URL`` / ``_TELNYX_URL``  Statuspage summary.json (defaults: the real pages)
``CALLWATCH_STATUSPAGE``               ``off`` disables the Statuspage pollers
``CALLWATCH_PROBE_TELNYX_PRIVATE_KEY[_FILE]``  Ed25519 key (base64 raw or PEM) signing Telnyx probes
``CALLWATCH_OUTCOMES_TWILIO`` / ``_TELNYX``  ``webhooks`` or ``polling``: who counts ended calls
=====================================  ============================================================

One source of truth per provider for ended calls, so nothing is counted twice: by default the
webhooks for Telnyx when ``TELNYX_PUBLIC_KEY`` is set, and for Twilio when
``CALLWATCH_PUBLIC_URL`` or ``TWILIO_WEBHOOK_SHARED_KEY`` is set (the auth token alone also
serves the pollers, so it says nothing about where status callbacks go); polling otherwise.
``CALLWATCH_OUTCOMES_<PROVIDER>`` overrides the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from callwatch.logs import register_secret
from callwatch.secrets import read_secret

STATUSPAGE_DEFAULTS = {"twilio": "https://status.twilio.com/api/v2/summary.json",
                       "telnyx": "https://status.telnyx.com/api/v2/summary.json"}


@dataclass(frozen=True)
class ExporterConfig:
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_shared_key: str | None = None
    twilio_shared_key_id: str | None = None
    twilio_base_url: str | None = None
    telnyx_api_key: str | None = None
    telnyx_public_key: str | None = None
    telnyx_base_url: str | None = None
    telnyx_connection_id: str | None = None
    statuspage_urls: Mapping[str, str] | None = None
    probe_telnyx_private_key: str | None = None
    outcome_sources: Mapping[str, str] | None = None

    @property
    def twilio_polling(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def telnyx_polling(self) -> bool:
        return bool(self.telnyx_api_key)

    @property
    def twilio_webhooks(self) -> bool:
        return bool(self.twilio_auth_token or self.twilio_shared_key)

    @property
    def telnyx_webhooks(self) -> bool:
        return bool(self.telnyx_public_key)

    def webhooks_count_calls(self, provider: str) -> bool:
        """Whether webhooks (not polling) are ``provider``'s source of truth for ended calls."""
        chosen = (self.outcome_sources or {}).get(provider)
        if chosen:
            return chosen == "webhooks"
        if provider == "twilio":
            return bool(self.twilio_webhooks and (self.public_url or self.twilio_shared_key))
        return self.telnyx_webhooks


def load_config(environ: Mapping[str, str]) -> ExporterConfig:
    """Read the exporter's environment; every secret read is registered for log scrubbing."""
    secrets = {name: read_secret(environ, name) for name in (
        "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY", "TELNYX_API_KEY", "TELNYX_PUBLIC_KEY",
        "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY")}
    for value in secrets.values():
        if value:
            register_secret(value)
    statuspage: dict[str, str] | None = None
    if environ.get("CALLWATCH_STATUSPAGE", "on").lower() not in ("off", "0", "false", "no"):
        statuspage = {p: environ.get(f"STATUSPAGE_{p.upper()}_URL") or url
                      for p, url in STATUSPAGE_DEFAULTS.items()}
    sources = {}
    for provider in ("twilio", "telnyx"):
        chosen = (environ.get(f"CALLWATCH_OUTCOMES_{provider.upper()}") or "").strip().lower()
        if chosen and chosen not in ("webhooks", "polling"):
            raise ValueError(f"CALLWATCH_OUTCOMES_{provider.upper()} must be webhooks or polling, "
                             f"got {chosen[:20]!r}")
        if chosen:
            sources[provider] = chosen
    return ExporterConfig(
        public_url=environ.get("CALLWATCH_PUBLIC_URL") or None,
        twilio_account_sid=environ.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=secrets["TWILIO_AUTH_TOKEN"],
        twilio_shared_key=secrets["TWILIO_WEBHOOK_SHARED_KEY"],
        twilio_shared_key_id=environ.get("TWILIO_WEBHOOK_SHARED_KEY_ID") or None,
        twilio_base_url=environ.get("TWILIO_BASE_URL") or None,
        telnyx_api_key=secrets["TELNYX_API_KEY"],
        telnyx_public_key=secrets["TELNYX_PUBLIC_KEY"],
        telnyx_base_url=environ.get("TELNYX_BASE_URL") or None,
        telnyx_connection_id=environ.get("TELNYX_CONNECTION_ID") or None,
        statuspage_urls=statuspage,
        probe_telnyx_private_key=secrets["CALLWATCH_PROBE_TELNYX_PRIVATE_KEY"],
        outcome_sources=sources,
    )
