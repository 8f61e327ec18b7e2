"""Signature checks against the providers' documented examples and fresh keys."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callwatch.signatures import (
    SignatureError,
    TelnyxVerifier,
    TwilioVerifier,
    load_telnyx_private_key,
    load_telnyx_public_key,
    telnyx_public_key_b64,
    telnyx_sign,
    twilio_sign,
)

# Twilio's published example (twilio-python's own test vector).
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
                 "From": "+12349013030", "To": "+18005551212"}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_published_vector_computes_the_documented_signature():
    assert twilio_sign("12345", VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE


def test_twilio_published_vector_verifies():
    TwilioVerifier("12345").verify(VECTOR_URL, VECTOR_PARAMS,
                                   {"X-Twilio-Signature": VECTOR_SIGNATURE})


def test_twilio_published_vector_with_a_changed_param_is_rejected():
    params = dict(VECTOR_PARAMS, Digits="9999")
    with pytest.raises(SignatureError, match="does not match"):
        TwilioVerifier("12345").verify(VECTOR_URL, params, {"X-Twilio-Signature": VECTOR_SIGNATURE})


def test_twilio_signature_over_another_url_is_rejected():
    with pytest.raises(SignatureError):
        TwilioVerifier("12345").verify("http://10.0.0.5:8080/myapp.php?foo=1&bar=2", VECTOR_PARAMS,
                                       {"X-Twilio-Signature": VECTOR_SIGNATURE})


def test_twilio_shared_key_sha256_variant_verifies_with_the_shared_key_only():
    signature = twilio_sign("shared-secret", VECTOR_URL, VECTOR_PARAMS, algorithm="HMAC_SHA256")
    headers = {"X-Twilio-Signature": signature,
               "X-Twilio-Webhooks-Signature-Settings": "key=KS123,algorithm=HMAC_SHA256"}
    TwilioVerifier("12345", "shared-secret", "KS123").verify(VECTOR_URL, VECTOR_PARAMS, headers)
    with pytest.raises(SignatureError, match="not configured"):
        TwilioVerifier("12345").verify(VECTOR_URL, VECTOR_PARAMS, headers)
    with pytest.raises(SignatureError, match="unknown shared key id"):
        TwilioVerifier("12345", "shared-secret", "KSother").verify(VECTOR_URL, VECTOR_PARAMS,
                                                                   headers)


def test_twilio_unsupported_algorithm_is_rejected():
    headers = {"X-Twilio-Signature": "x", "X-Twilio-Webhooks-Signature-Settings": "algorithm=MD5"}
    with pytest.raises(SignatureError, match="unsupported"):
        TwilioVerifier("12345", "k").verify(VECTOR_URL, VECTOR_PARAMS, headers)


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def verifier(key, now=1000.0):
    return TelnyxVerifier(load_telnyx_public_key(telnyx_public_key_b64(key)), clock=lambda: now)


def test_telnyx_signature_from_a_fresh_key_verifies(key):
    verifier(key).verify(b'{"a":1}', telnyx_sign(key, b'{"a":1}', 1000))


def test_telnyx_timestamp_300s_old_is_accepted_and_301s_rejected(key):
    verifier(key, now=1300).verify(b"x", telnyx_sign(key, b"x", 1000))
    with pytest.raises(SignatureError, match="301s old"):
        verifier(key, now=1301).verify(b"x", telnyx_sign(key, b"x", 1000))


def test_telnyx_timestamp_from_the_future_is_rejected(key):
    with pytest.raises(SignatureError, match="in the future"):
        verifier(key, now=1000).verify(b"x", telnyx_sign(key, b"x", 1400))


def test_telnyx_forged_body_is_rejected(key):
    headers = telnyx_sign(key, b'{"a":1}', 1000)
    with pytest.raises(SignatureError, match="does not match"):
        verifier(key).verify(b'{"a":2}', headers)


def test_telnyx_signature_by_another_key_is_rejected(key):
    other = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="does not match"):
        verifier(key).verify(b"x", telnyx_sign(other, b"x", 1000))


def test_telnyx_signature_with_a_tampered_timestamp_is_rejected(key):
    headers = telnyx_sign(key, b"x", 1000)
    headers["telnyx-timestamp"] = "1001"
    with pytest.raises(SignatureError, match="does not match"):
        verifier(key).verify(b"x", headers)


BAD_TELNYX_HEADERS = [
    ("no signature header", {"telnyx-timestamp": "1000"}, "missing telnyx-signature"),
    ("no timestamp header", {"telnyx-signature-ed25519": "AAAA"}, "missing telnyx-timestamp"),
    ("a timestamp that is not a number",
     {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "yesterday"}, "not a Unix time"),
    ("a signature that is not base64",
     {"telnyx-signature-ed25519": "!!!", "telnyx-timestamp": "1000"}, "not valid base64"),
]


@pytest.mark.parametrize("name,headers,message", BAD_TELNYX_HEADERS,
                         ids=[c[0] for c in BAD_TELNYX_HEADERS])
def test_telnyx_bad_headers_are_rejected_naming_the_problem(key, name, headers, message):
    with pytest.raises(SignatureError, match=message):
        verifier(key).verify(b"x", headers)


def test_telnyx_public_key_must_be_32_base64_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        load_telnyx_public_key(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        load_telnyx_public_key("not base64!")


def test_probe_private_key_loads_from_raw_base64_and_pem(key):
    from cryptography.hazmat.primitives import serialization as s
    raw = key.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    for text in (base64.b64encode(raw).decode(), pem):
        loaded = load_telnyx_private_key(text)
        assert telnyx_public_key_b64(loaded) == telnyx_public_key_b64(key)
