"""Provider API metrics for applications that call Twilio and Telnyx through the official SDKs.

    from callwatch.instrument import instrument_telnyx, instrument_twilio
    twilio_client = instrument_twilio(twilio.rest.Client(sid, token))
    telnyx_client = instrument_telnyx(telnyx.AsyncTelnyx(api_key=key))

From then on every HTTP request the client makes records, in this process and on the given
registry (default: prometheus_client's global ``REGISTRY``), the two metrics the exporter records
for its own polls, with the same names, labels and buckets:

- ``telephony_provider_api_request_duration_seconds{provider, operation}`` (histogram, seconds);
- ``telephony_provider_api_requests_total{provider, operation, outcome}`` (counter).

``provider`` is ``twilio`` or ``telnyx``. ``outcome`` is ``success`` for a 2xx answer and
``error`` otherwise, as in the exporter: any non-2xx status (429 and 5xx included), a timeout,
a refused or broken connection, any exception out of the HTTP client. A request the application
cancels (``asyncio.timeout`` or ``wait_for`` around the SDK call, shutdown) is not counted, as the
exporter does not count its cancelled polls: from inside, a deadline cannot be told from a
shutdown. Each HTTP attempt counts once: the Telnyx SDK's own retries (``max_retries``, 2 unless
set) count one request each; retries the ``requests`` adapter makes inside Twilio's sync client
are invisible to it and count once.

``operation`` names the resource, never an id: the path's word segments in snake_case, with
segments holding digits or punctuation (SIDs, UUIDs, phone numbers, Telnyx call control ids,
API versions) left out, Twilio's ``Accounts/{sid}`` prefix dropped and Twilio's product host
kept (``POST .../Accounts/AC.../Calls.json`` is ``calls``, ``GET monitor.twilio.com/v1/Alerts``
is ``monitor_alerts``, Telnyx ``POST /v2/calls/{id}/actions/hangup`` is
``calls_actions_hangup``). A path parameter that is a plain word (a Telnyx queue name, say)
would show, so each provider keeps at most ``MAX_OPERATIONS`` names per registry; later new
names count as ``other``.

Instrumenting creates the metrics on the registry the first time; later calls on the same
registry reuse them (no "Duplicated timeseries" error). A registry that already holds metrics of
these names with the same labels and buckets (the exporter's, from ``exporter.metrics``) is used
as it is; one whose metrics of these names differ raises ValueError. Instrumenting a client
twice, or two clients that share one HTTP client, counts each request once (on the registry of
the first call). Nothing is registered at import, and this module imports neither the SDKs nor
the exporter. Labels never carry a URL or a credential.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["MAX_OPERATIONS", "instrument_telnyx", "instrument_twilio", "operation_of_path",
           "twilio_operation"]

C = TypeVar("C")

# The names, labels and buckets of exporter/metrics.py (policy.catalog). Repeated here so that
# importing this module costs prometheus_client only; tests/test_instrument.py pins them equal.
API_DURATION = "telephony_provider_api_request_duration_seconds"
API_REQUESTS = "telephony_provider_api_requests_total"
DURATION_LABELS = ("provider", "operation")
REQUEST_LABELS = ("provider", "operation", "outcome")
API_OUTCOMES = ("success", "error")
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
MAX_OPERATIONS = 50
OTHER = "other"

_WORD = re.compile(r"[A-Za-z]+(?:[_-][A-Za-z]+)*")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_MARK = "_callwatch_instrumented"


def instrument_twilio(client: C, registry: CollectorRegistry | None = None) -> C:
    """Count every request of a Twilio ``Client`` (or of an ``HttpClient`` given alone):
    ``TwilioHttpClient``, ``AsyncTwilioHttpClient`` or a subclass. Returns ``client``.

    Wraps the HTTP client's ``request``, so instrument after the client's ``http_client`` is
    set; an HTTP client shared by several Clients is covered for all of them."""
    http = getattr(client, "http_client", client)
    _wrap(http, "request", "twilio", _metrics_for(registry), _twilio_target)
    return client


def instrument_telnyx(client: C, registry: CollectorRegistry | None = None) -> C:
    """Count every request of a ``telnyx.Telnyx`` or ``telnyx.AsyncTelnyx`` client (or of an
    ``httpx.Client``/``AsyncClient`` before it is passed as ``http_client=``). Returns
    ``client``. Copies made with ``with_options`` share the HTTP client, so they count too.

    Wraps the httpx client's ``send``: an event hook never sees a request that fails without
    an answer, and a replaced transport is bypassed by proxy mounts."""
    http = getattr(client, "_client", client)
    base = getattr(client, "base_url", None)
    prefix = base.path.rstrip("/") if base is not None else ""
    target = functools.partial(_telnyx_target, prefix=prefix)
    _wrap(http, "send", "telnyx", _metrics_for(registry), target)
    return client


def twilio_operation(url: str) -> str:
    """The ``operation`` label of a Twilio request URL (see the module docstring)."""
    parts = urlsplit(url)
    words = _words(parts.path)
    if words[:1] == ["accounts"] and len(words) > 1:
        words = words[1:]
    host = (parts.hostname or "").lower()
    if host.endswith(".twilio.com"):
        product = host.split(".")[0]
        if product != "api" and _WORD.fullmatch(product):
            words.insert(0, product.replace("-", "_"))
    return "_".join(words) or OTHER


def operation_of_path(path: str, prefix: str = "") -> str:
    """The ``operation`` label of an API path, after ``prefix`` (the client's base path)."""
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix):]
    return "_".join(_words(path)) or OTHER


def _words(path: str) -> list[str]:
    """The path's resource words in snake_case; ids, versions and numbers left out."""
    words = []
    for segment in path.split("/"):
        segment = unquote(segment).removesuffix(".json")
        if len(segment) <= 40 and _WORD.fullmatch(segment):
            words.append(_CAMEL.sub("_", segment).lower().replace("-", "_"))
    return words


def _twilio_target(args: tuple, kwargs: dict) -> str:
    # TwilioHttpClient.request(method, url, ...); ClientBase passes both positionally.
    url = args[1] if len(args) > 1 else kwargs.get("url", kwargs.get("uri", ""))
    return twilio_operation(str(url))


def _telnyx_target(args: tuple, kwargs: dict, prefix: str) -> str:
    request = args[0] if args else kwargs["request"]
    return operation_of_path(request.url.path, prefix)


class _ApiMetrics:
    """The two metrics on one registry, and the operation names seen per provider."""

    def __init__(self, duration: Histogram, requests: Counter) -> None:
        self.duration, self.requests = duration, requests
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def operation(self, provider: str, name: str) -> str:
        """``name``, or ``other`` past the cap; creates the series before their first use
        (a counter born at its first increment hides that increment from rate())."""
        with self._lock:
            seen = self._seen.setdefault(provider, set())
            if name in seen:
                return name
            if len(seen) >= MAX_OPERATIONS:
                name = OTHER
            seen.add(name)
        self.duration.labels(provider, name)
        for outcome in API_OUTCOMES:
            self.requests.labels(provider, name, outcome)
        return name

    def record(self, provider: str, operation: str, seconds: float, ok: bool) -> None:
        self.duration.labels(provider, operation).observe(seconds)
        self.requests.labels(provider, operation, "success" if ok else "error").inc()


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, _ApiMetrics] = (
    weakref.WeakKeyDictionary())
_by_registry_lock = threading.Lock()


def _metrics_for(registry: CollectorRegistry | None) -> _ApiMetrics:
    registry = REGISTRY if registry is None else registry
    with _by_registry_lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _ApiMetrics(_histogram(registry), _counter(registry))
            _by_registry[registry] = metrics
        return metrics


def _histogram(registry: CollectorRegistry) -> Histogram:
    found = _registered(registry, API_DURATION, Histogram, DURATION_LABELS)
    if found is not None:
        if list(getattr(found, "_upper_bounds", ())) != [*API_BUCKETS, float("inf")]:
            raise ValueError(f"{API_DURATION} is already registered with other buckets")
        return found
    return Histogram(API_DURATION, "Duration of provider API requests made by this "
                     "application's instrumented SDK clients, in seconds.", DURATION_LABELS,
                     buckets=API_BUCKETS, unit="seconds", registry=registry)


def _counter(registry: CollectorRegistry) -> Counter:
    found = _registered(registry, API_REQUESTS, Counter, REQUEST_LABELS)
    if found is not None:
        return found
    return Counter(API_REQUESTS, "Provider API requests made by this application's "
                   "instrumented SDK clients; outcome success|error (error: timeout, transport "
                   "failure, 429 or any non-2xx).", REQUEST_LABELS, registry=registry)


def _registered(registry: CollectorRegistry, name: str, kind: type, labels: tuple) -> Any:
    """The collector already registered under ``name``, if any; ValueError when it is not a
    ``kind`` with exactly ``labels`` (counting into it would mislabel or crash later)."""
    # prometheus_client offers no public lookup by name; this mapping is what register() checks.
    found = getattr(registry, "_names_to_collectors", {}).get(name)
    if found is None:
        return None
    if not isinstance(found, kind) or tuple(getattr(found, "_labelnames", ())) != labels:
        raise ValueError(f"{name} is already registered as a different metric; callwatch "
                         f"needs a {kind.__name__} labelled {', '.join(labels)}")
    return found


def _wrap(http: Any, method: str, provider: str, metrics: _ApiMetrics,
          target: Callable[[tuple, dict], str]) -> None:
    """Replace ``http.<method>`` on the instance by a timed, counted version (once)."""
    if getattr(http, _MARK, False):
        return
    original = getattr(http, method)

    def operation(args: tuple, kwargs: dict) -> str:
        try:
            name = target(args, kwargs)
        except Exception:  # noqa: BLE001 - naming must never break the application's request
            name = OTHER
        return metrics.operation(provider, name)

    if inspect.iscoroutinefunction(original):
        wrapper = _async_wrapper(original, provider, metrics, operation)
    else:
        wrapper = _sync_wrapper(original, provider, metrics, operation)
    setattr(http, method, wrapper)
    setattr(http, _MARK, True)


def _sync_wrapper(original: Callable, provider: str, metrics: _ApiMetrics,
                  operation: Callable[[tuple, dict], str]) -> Callable:
    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        name = operation(args, kwargs)
        started = time.perf_counter()
        try:
            response = original(*args, **kwargs)
        except Exception:
            metrics.record(provider, name, time.perf_counter() - started, False)
            raise
        metrics.record(provider, name, time.perf_counter() - started, _ok(response))
        return response
    return timed


def _async_wrapper(original: Callable, provider: str, metrics: _ApiMetrics,
                   operation: Callable[[tuple, dict], str]) -> Callable:
    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        name = operation(args, kwargs)
        started = time.perf_counter()
        try:
            response = await original(*args, **kwargs)
        except Exception:  # CancelledError is a BaseException: a cancel is not counted
            metrics.record(provider, name, time.perf_counter() - started, False)
            raise
        metrics.record(provider, name, time.perf_counter() - started, _ok(response))
        return response
    return timed


def _ok(response: Any) -> bool:
    """2xx is success; anything else is an error, as the SDKs raise for it."""
    status = getattr(response, "status_code", None)
    return isinstance(status, int) and 200 <= status < 300
