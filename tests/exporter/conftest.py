"""Fixtures for the exporter tests: an exporter app with fresh secrets and a fixed clock."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exporter_testkit import API_AUTH, PUBLIC_URL, TWILIO_TOKEN, Clock, make_app

from callwatch.signatures import telnyx_public_key_b64


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def telnyx_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def base_env(telnyx_key) -> dict[str, str]:
    """Webhook secrets only: pollers off, Statuspage off (tests never leave 127.0.0.1)."""
    return {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TELNYX_PUBLIC_KEY": telnyx_public_key_b64(telnyx_key),
            "CALLWATCH_PUBLIC_URL": PUBLIC_URL, "CALLWATCH_STATUSPAGE": "off"}


@pytest.fixture
async def client(aiohttp_client, policy, base_env, clock):
    """A client of ``make_app``'s exporter that sends the API token with every request."""
    return await aiohttp_client(make_app(policy, base_env, clock), headers=API_AUTH)
