"""Named scenarios: pure data describing how each provider, the app and the notifiers behave.

A :class:`Scenario` holds one :class:`ProviderKnobs` per provider plus the app's and the
notifiers' behaviour. The traffic generator draws calls from the knobs; ``control.apply``
turns the API/status/notifier knobs into fault injection and Statuspage indicators.

Scenarios affect both providers unless their name says one (``twilio-outage``,
``telnyx-outage``). Twilio carries ``twilio_share`` (60%) of calls, so a Twilio-wide fault
touches over half the traffic (the policy's P1 criterion).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ProviderKnobs:
    """How one provider behaves. Ratios are 0..1; latency in seconds."""

    drop_ratio: float = 0.01          # of ANSWERED calls, the share that drop (abnormal end)
    failure_ratio: float = 0.005      # of all calls, the share that fail to connect
    busy_ratio: float = 0.03
    no_answer_ratio: float = 0.04
    canceled_ratio: float = 0.01
    mos_mean: float = 4.3             # MOS of answered calls ~ N(mean, sd), clamped to 1..4.5
    mos_sd: float = 0.15
    api_error_ratio: float = 0.0      # share of API requests answering api_error_status
    api_error_status: int = 503
    api_latency: float = 0.0          # added to every API request
    status_indicator: str = "none"    # Statuspage: none | minor | major | critical
    webhook_failure_ratio: float = 0.0  # share of the provider's webhooks to the app that fail


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    twilio: ProviderKnobs = ProviderKnobs()
    telnyx: ProviderKnobs = ProviderKnobs()
    twilio_share: float = 0.6         # share of calls placed through Twilio
    app_failure_ratio: float = 0.0    # the app's webhook endpoint and API answer 500 this often
    app_latency: float = 0.0
    notifier_status: int | None = None  # PagerDuty and Slack answer this status to everything

    def knobs(self, provider: str) -> ProviderKnobs:
        if provider not in ("twilio", "telnyx"):
            raise ValueError(f"unknown provider {provider!r}")
        return self.twilio if provider == "twilio" else self.telnyx


NORMAL = ProviderKnobs()
OUTAGE = ProviderKnobs(failure_ratio=0.9, drop_ratio=0.5, api_error_ratio=1.0,
                       api_error_status=503, status_indicator="major")
TOTAL_OUTAGE = replace(OUTAGE, failure_ratio=0.97, status_indicator="critical")
HIGH_DROP = replace(NORMAL, drop_ratio=0.10)
POOR_QUALITY = replace(NORMAL, mos_mean=2.6, mos_sd=0.2, status_indicator="minor")
WEBHOOK_FAILURES = replace(NORMAL, webhook_failure_ratio=0.3)
SLOW_API = replace(NORMAL, api_latency=2.5)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("normal", "Healthy traffic: ~1% drops, MOS ~4.3, APIs fast, status pages green."),
    Scenario("twilio-outage", "Twilio down: 90% of its calls fail, its API answers 503, "
             "its status page shows a major outage. Telnyx healthy.", twilio=OUTAGE),
    Scenario("telnyx-outage", "Telnyx down: 90% of its calls fail, its API answers 503, "
             "its status page shows a major outage. Twilio healthy.", telnyx=OUTAGE),
    Scenario("total-outage", "Complete loss of telephony: both providers down, status pages "
             "critical.", twilio=TOTAL_OUTAGE, telnyx=TOTAL_OUTAGE),
    Scenario("high-drop-rate", "10% of answered calls drop on both providers.",
             twilio=HIGH_DROP, telnyx=HIGH_DROP),
    Scenario("poor-quality", "Call quality collapses: MOS ~2.6 on both providers.",
             twilio=POOR_QUALITY, telnyx=POOR_QUALITY),
    Scenario("webhook-failures", "The app's webhook endpoint fails ~30%: Twilio Monitor 11200 "
             "alerts, failed Telnyx webhook deliveries, failing synthetic probes.",
             twilio=WEBHOOK_FAILURES, telnyx=WEBHOOK_FAILURES, app_failure_ratio=0.3),
    Scenario("slow-api", "Provider APIs answer after ~2.5 s.", twilio=SLOW_API, telnyx=SLOW_API),
    Scenario("notifier-outage", "PagerDuty and Slack answer 503; providers healthy.",
             notifier_status=503),
)}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; ValueError naming the allowed ones otherwise."""
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown scenario {str(name)[:60]!r}; allowed: "
                         f"{', '.join(SCENARIOS)}") from None
