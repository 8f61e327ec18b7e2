"""Webhook signature checks for Twilio and Telnyx (the exporter's webhooks, the receiver's call
and message callbacks), and the signing the probes need.

Twilio: ``X-Twilio-Signature`` = base64 HMAC-SHA1(auth token, public URL +
sorted form params), verified with the SDK's ``RequestValidator`` against the URL Twilio called —
the PUBLIC one (``CALLWATCH_PUBLIC_URL`` + path + query), not what a proxy forwarded to us. When
``X-Twilio-Webhooks-Signature-Settings`` names ``algorithm=HMAC_SHA256`` the request was signed with
a webhook SharedKey secret instead of the auth token.

Telnyx: ``telnyx-signature-ed25519`` = base64 Ed25519 signature of
``f"{telnyx-timestamp}|{raw body}"``, checked with the account's base64 32-byte public key; the
timestamp must be within 300 s of now (the clock is injected). Verified with libsodium through
PyNaCl (installed by ``telnyx[webhooks]``; about twice as fast as OpenSSL here) and else with
``cryptography`` — never through ``telnyx.lib``, which monkey-patches the SDK (B3 gotcha).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

TELNYX_SIGNATURE_HEADER = "telnyx-signature-ed25519"
TELNYX_TIMESTAMP_HEADER = "telnyx-timestamp"
TELNYX_TOLERANCE_SECONDS = 300
TWILIO_SIGNATURE_HEADER = SIGNATURE_HEADER
TWILIO_SETTINGS_HEADER = SIGNATURE_SETTINGS_HEADER


class SignatureError(Exception):
    """The request is not signed as it must be. The message names the problem, never a secret."""


class TwilioVerifier:
    """Checks Twilio signatures with the auth token and/or a webhook SharedKey secret."""

    def __init__(self, auth_token: str | None, shared_key: str | None = None,
                 shared_key_id: str | None = None) -> None:
        self._sha1 = RequestValidator(auth_token) if auth_token else None
        self._sha256 = RequestValidator(shared_key) if shared_key else None
        self._shared_key_id = shared_key_id

    @property
    def configured(self) -> bool:
        return self._sha1 is not None or self._sha256 is not None

    def verify(self, url: str, params: Mapping[str, object], headers: Mapping[str, str]) -> None:
        """Raise SignatureError unless ``headers`` sign ``url`` + ``params`` validly."""
        signature = headers.get(TWILIO_SIGNATURE_HEADER, "")
        if not signature:
            raise SignatureError(f"missing {TWILIO_SIGNATURE_HEADER} header")
        settings = headers.get(TWILIO_SETTINGS_HEADER)
        algorithm = get_signature_algorithm(settings).upper()
        validator = self._validator(algorithm, settings)
        if not validator.validate(url, params, signature, algorithm=algorithm):
            raise SignatureError(f"{TWILIO_SIGNATURE_HEADER} does not match the request "
                                 f"({algorithm} over {_strip_query(url)})")

    def _validator(self, algorithm: str, settings: str | None) -> RequestValidator:
        if algorithm == HMAC_SHA1:
            if self._sha1 is None:
                raise SignatureError("request signed with the auth token (HMAC_SHA1) but "
                                     "TWILIO_AUTH_TOKEN is not configured")
            return self._sha1
        if algorithm != HMAC_SHA256:
            raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
        if self._sha256 is None:
            raise SignatureError("request signed with a shared key (HMAC_SHA256) but "
                                 "TWILIO_WEBHOOK_SHARED_KEY is not configured")
        if self._shared_key_id and _settings_key(settings) != self._shared_key_id:
            raise SignatureError("request signed with an unknown shared key id")
        return self._sha256


def _settings_key(settings: str | None) -> str:
    for part in (settings or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            return value.strip()
    return ""


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def twilio_sign(token: str, url: str, params: Mapping[str, object],
                algorithm: str = HMAC_SHA1) -> str:
    """The ``X-Twilio-Signature`` value Twilio would send (used by probes and tests)."""
    return RequestValidator(token).compute_signature(url, params, algorithm=algorithm)


def load_telnyx_public_key(value: str) -> Ed25519PublicKey:
    """The Ed25519 key from its base64 32-byte form; ValueError naming the problem."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("TELNYX_PUBLIC_KEY is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"TELNYX_PUBLIC_KEY must decode to 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _ed25519_verifier(public_key: Ed25519PublicKey) -> Callable[[bytes, bytes], bool]:
    """``verify(signature, message) -> bool`` with libsodium when present, else OpenSSL."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey
    except ImportError:
        def verify_openssl(signature: bytes, message: bytes) -> bool:
            try:
                public_key.verify(signature, message)
            except InvalidSignature:
                return False
            return True
        return verify_openssl
    key = VerifyKey(raw)

    def verify_sodium(signature: bytes, message: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            key.verify(message, signature)
        except BadSignatureError:
            return False
        return True
    return verify_sodium


class TelnyxVerifier:
    """Checks Telnyx Ed25519 signatures with a 300 s timestamp tolerance."""

    def __init__(self, public_key: Ed25519PublicKey, clock: Callable[[], float] = time.time,
                 tolerance: float = TELNYX_TOLERANCE_SECONDS) -> None:
        self._verify = _ed25519_verifier(public_key)
        self._clock = clock
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise SignatureError unless ``body`` is signed and fresh."""
        signature = headers.get(TELNYX_SIGNATURE_HEADER, "")
        stamp = headers.get(TELNYX_TIMESTAMP_HEADER, "")
        if not signature:
            raise SignatureError(f"missing {TELNYX_SIGNATURE_HEADER} header")
        if not stamp:
            raise SignatureError(f"missing {TELNYX_TIMESTAMP_HEADER} header")
        try:
            when = int(stamp)
        except ValueError:
            raise SignatureError(f"{TELNYX_TIMESTAMP_HEADER} is not a Unix time") from None
        skew = self._clock() - when
        if abs(skew) > self._tolerance:
            raise SignatureError(f"{TELNYX_TIMESTAMP_HEADER} is {abs(skew):.0f}s "
                                 f"{'old' if skew > 0 else 'in the future'}; "
                                 f"tolerance is {self._tolerance:.0f}s")
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError(f"{TELNYX_SIGNATURE_HEADER} is not valid base64") from None
        if not self._verify(raw, stamp.encode() + b"|" + body):
            raise SignatureError(f"{TELNYX_SIGNATURE_HEADER} does not match the body")


def load_telnyx_private_key(value: str) -> Ed25519PrivateKey:
    """A probe's Ed25519 private key: base64 of the 32 raw bytes, or a PEM (PKCS#8) block."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        key = load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("CALLWATCH_PROBE_TELNYX_PRIVATE_KEY is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("CALLWATCH_PROBE_TELNYX_PRIVATE_KEY is not valid base64 or PEM") from None
    if len(raw) != 32:
        raise ValueError("CALLWATCH_PROBE_TELNYX_PRIVATE_KEY must decode to 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def telnyx_sign(key: Ed25519PrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Telnyx would send with ``body`` at ``timestamp`` (probes and tests)."""
    signature = key.sign(str(timestamp).encode() + b"|" + body)
    return {TELNYX_SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TELNYX_TIMESTAMP_HEADER: str(timestamp)}


def telnyx_public_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 public key matching ``key`` (what TELNYX_PUBLIC_KEY must hold)."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()
