"""When the certificates an https probe target sent expire (``probe_ssl_earliest_cert_expiry``).

The value is the earliest ``notAfter`` of the chain the peer sent, as blackbox_exporter reports
it: an intermediate that expires before the leaf counts. The chain comes from the TLS
connection the probe itself used, so a pooled connection gives the same answer as a new one.

aiohttp may hand a small answer's connection back to its pool before the caller sees the
response, so the certificate is read where the connection is handed out: a session from
:func:`probe_session` records it into the slot that :func:`recording` opened for the request
being sent (a context variable: each probe runs in its own task, so concurrent probes never
see each other's certificates).

Python exposes the sent chain publicly from 3.13 (``SSLObject.get_unverified_chain``); on 3.11
and 3.12 the same method is on the private ``_sslobj``. Where neither exists, the leaf's
``notAfter`` stands for the chain.
"""

from __future__ import annotations

import contextvars
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp.connector import Connection
from cryptography import x509

log = logging.getLogger("callwatch.exporter.probes")
_SLOT: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "probe_certificate_expiry", default=None)
_DER = 2   # _ssl.ENCODING_DER: the private chain's certificates speak only this constant


class RecordingConnector(aiohttp.TCPConnector):
    """A TCP connector that notes the peer chain's earliest expiry for the probe sending."""

    async def connect(self, req: aiohttp.ClientRequest, traces: list,
                      timeout: aiohttp.ClientTimeout) -> Connection:
        connection = await super().connect(req, traces, timeout)
        slot = _SLOT.get()
        transport = connection.transport
        if slot is not None and transport is not None:
            expiry = earliest_expiry(transport.get_extra_info("ssl_object"))
            if expiry is not None:
                slot.append(expiry)
        return connection


def probe_session(**kwargs) -> aiohttp.ClientSession:
    """A client session whose https requests record their certificates (``kwargs``: the
    connector's, e.g. ``ssl=`` a context trusting a private CA)."""
    return aiohttp.ClientSession(connector=RecordingConnector(**kwargs))


@contextmanager
def recording() -> Iterator[list[float]]:
    """A slot that receives the expiry of every https connection this task opens meanwhile."""
    slot: list[float] = []
    token = _SLOT.set(slot)
    try:
        yield slot
    finally:
        _SLOT.reset(token)


def earliest_expiry(ssl_object: ssl.SSLObject | None) -> float | None:
    """The unix time the earliest certificate the peer sent expires; None without TLS."""
    if ssl_object is None:
        return None
    try:
        certificates = [x509.load_der_x509_certificate(der) for der in _sent_chain(ssl_object)]
    except ValueError as exc:
        log.warning("peer certificate unreadable", extra={"problem": str(exc)[:160]})
        return None
    if not certificates:
        return None
    return min(cert.not_valid_after_utc.timestamp() for cert in certificates)


def _sent_chain(ssl_object: ssl.SSLObject) -> list[bytes]:
    """The DER certificates the peer sent, leaf first."""
    chain = getattr(ssl_object, "get_unverified_chain", None)           # Python 3.13+
    if chain is None:
        chain = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if chain is not None:
        sent = chain() or []
        return [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in sent]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []
