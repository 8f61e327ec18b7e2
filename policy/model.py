"""The internal policy model: what every renderer, the exporter and the receiver read.

It is kept apart from the versioned file format (``policy.spec``): the file may grow new
versions, the model is what the code depends on. Durations are seconds (float).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from policy.spec_exporter import ExporterSettings

PRIORITIES = ("P0", "P1", "P2", "P3")
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class Threshold:
    """One row of the policy's alert thresholds table, as configured."""

    key: str                    # catalog key, e.g. "call_drop_rate"
    warning: float
    critical: float
    for_seconds: float
    runbook: str                # file name under links.runbook_base_url
    priority_warning: str
    priority_critical: str
    priority_critical_majority: str | None  # used when the provider carries the majority of traffic


@dataclass(frozen=True)
class ServiceDown:
    for_seconds: float
    priority: str
    runbook: str


@dataclass(frozen=True)
class Priority:
    key: str                    # "P0".."P3"
    name: str
    response_seconds: float     # time to acknowledge
    description: str


@dataclass(frozen=True)
class PriorityOverride:
    matchers: tuple[str, ...]   # Alertmanager matcher syntax, all must match
    priority: str


@dataclass(frozen=True)
class Route:
    priority: str
    channels: tuple[str, ...]
    fallback: tuple[str, ...]


@dataclass(frozen=True)
class Channel:
    """A notification channel. ``settings`` holds the type-specific keys, secrets only by name."""

    name: str
    type: str                   # pagerduty | slack | phone | email | digest
    settings: Mapping[str, object]


@dataclass(frozen=True)
class Contact:
    key: str
    name: str
    pagerduty: bool = False
    slack: str | None = None
    phone: str | None = None
    email: str | None = None
    methods: tuple[str, ...] = ()   # how to reach them, in the order the policy lists them


@dataclass(frozen=True)
class EscalationStep:
    level: str                  # "L1".."L4"
    after_seconds: float        # since the incident opened
    contacts: tuple[str, ...]
    channels: tuple[str, ...]
    priorities: tuple[str, ...]  # the priorities this step applies to


@dataclass(frozen=True)
class EscalationDeadline:
    priority: str
    after_seconds: float
    level: str                  # the engineering level reached at the latest by then


@dataclass(frozen=True)
class Escalation:
    engineering: tuple[EscalationStep, ...]
    deadlines: Mapping[str, EscalationDeadline]
    business: tuple[EscalationStep, ...]
    # who runs the timed engineering chain: callwatch, or PagerDuty's escalation policy (then
    # callwatch hands every incident to PagerDuty at once and times no engineering step)
    owner: str = "callwatch"


@dataclass(frozen=True)
class VendorContact:
    level: int
    kind: str                   # email | phone | account_manager
    value: str


@dataclass(frozen=True)
class VendorCriterion:
    alerts: tuple[str, ...]
    lasting_seconds: float


@dataclass(frozen=True)
class Vendor:
    provider: str
    support_tier: str
    tiers: Mapping[str, Mapping[str, object]]
    contacts: tuple[VendorContact, ...]
    criteria: tuple[VendorCriterion, ...]
    required_info: tuple[str, ...]
    account: Mapping[str, str]  # e.g. {"account_id_env": "TWILIO_ACCOUNT_SID"}
    send_to_vendor: bool


@dataclass(frozen=True)
class Links:
    runbook_base_url: str
    dashboard_url: str
    status_page_url: str


@dataclass(frozen=True)
class Evaluation:
    scrape_seconds: float
    evaluation_seconds: float
    rate_window_seconds: float
    keep_firing_seconds: float


@dataclass(frozen=True)
class MinimumTraffic:
    answered_calls: int
    webhook_deliveries: int
    api_requests: int


@dataclass(frozen=True)
class AlertmanagerSettings:
    receiver_url: str
    token_file: str
    group_wait_seconds: float
    group_interval_seconds: float
    repeat_interval_seconds: Mapping[str, float]


@dataclass(frozen=True)
class PrometheusSettings:
    callwatch_targets: tuple[str, ...]
    alertmanagers: tuple[str, ...]


@dataclass(frozen=True)
class Notifications:
    fallback_after_seconds: float
    reopen_window_seconds: float


@dataclass(frozen=True)
class Policy:
    """A loaded, cross-checked policy. Build it with ``policy.load_policy``."""

    source: str
    providers: tuple[str, ...]
    links: Links
    evaluation: Evaluation
    minimum_traffic: MinimumTraffic
    majority_traffic_share: float
    thresholds: Mapping[str, Threshold]
    service_down: ServiceDown
    priorities: Mapping[str, Priority]
    priority_overrides: tuple[PriorityOverride, ...]
    severity_default: Mapping[str, str]
    routing: Mapping[str, Route]
    notifications: Notifications
    alertmanager: AlertmanagerSettings
    prometheus: PrometheusSettings
    channels: Mapping[str, Channel]
    contacts: Mapping[str, Contact]
    escalation: Escalation
    vendors: Mapping[str, Vendor] = field(default_factory=dict)
    exporter: ExporterSettings = field(default_factory=ExporterSettings)
    templates: Mapping[str, str] = field(default_factory=dict)  # template name -> file path
    warnings: tuple[str, ...] = ()  # what loads but will not work as meant, one line each

    def runbook_url(self, runbook: str) -> str:
        return self.links.runbook_base_url + runbook
