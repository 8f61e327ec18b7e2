"""An application that places calls through the Twilio and Telnyx SDKs and shows its own
provider API traffic on /metrics (docs/exporter.md, "Measuring your application's own provider
traffic").

    TWILIO_ACCOUNT_SID=... TWILIO_AUTH_TOKEN=... TELNYX_API_KEY=... TELNYX_CONNECTION_ID=... \
    CALL_FROM=+15005550006 CALL_TO=+15005550001 python examples/instrumented_app.py
    curl -s localhost:8000/metrics | grep telephony_provider_api

``TWILIO_BASE_URL`` and ``TELNYX_BASE_URL`` (with ``/v2``) point the SDKs elsewhere, such as the
simulator (``callwatch demo`` prints its environment); ``METRICS_PORT`` (8000) is the port of
/metrics. It places one call through each provider, then serves /metrics until stopped.
"""

from __future__ import annotations

import os
import threading

import telnyx
from prometheus_client import start_http_server
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callwatch.instrument import instrument_telnyx, instrument_twilio


def twilio_client() -> Client:
    client = Client(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"],
                    http_client=TwilioHttpClient(timeout=10))
    if os.environ.get("TWILIO_BASE_URL"):
        client.api.base_url = os.environ["TWILIO_BASE_URL"].rstrip("/")
    return instrument_twilio(client)


def telnyx_client() -> telnyx.Telnyx:
    # The SDK reads TELNYX_API_KEY, and TELNYX_BASE_URL when set, itself.
    return instrument_telnyx(telnyx.Telnyx(timeout=10))


def main() -> None:
    start_http_server(int(os.environ.get("METRICS_PORT", "8000")))
    to, from_ = os.environ["CALL_TO"], os.environ["CALL_FROM"]
    call = twilio_client().calls.create(
        to=to, from_=from_, twiml="<Response><Say>Hello from the app</Say></Response>")
    print("twilio call", call.sid, flush=True)
    dialled = telnyx_client().calls.dial(
        connection_id=os.environ["TELNYX_CONNECTION_ID"], to=to, from_=from_)
    print("telnyx call", dialled.data.call_control_id if dialled.data else None, flush=True)
    threading.Event().wait()  # serve /metrics until the process is stopped


if __name__ == "__main__":
    main()
