"""The internal policy model: what every renderer, the exporter and the receiver read.

It is kept apart from the versioned file format (``policy.spec``): the file may grow new
versions, the model is what the code depends on. Durations are seconds (float).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    # the error-rate and API-latency alerts also need this many bad requests (failed, or slower
    # than the threshold) in the window: one bad poll is not an incident
    api_bad_requests: int = 2


@dataclass(frozen=True)
class FallbackReceiver:
    """Where callwatch's own alerts also go, around callwatch: exactly one is set."""

    webhook_url: str | None = None
    pagerduty_routing_key_file: str | None = None


@dataclass(frozen=True)
class AlertmanagerSettings:
    receiver_url: str
    token_file: str
    group_wait_seconds: float
    group_interval_seconds: float
    repeat_interval_seconds: Mapping[str, float]
    fallback_receiver: FallbackReceiver | None = None


@dataclass(frozen=True)
class PrometheusSettings:
    callwatch_targets: tuple[str, ...]
    alertmanagers: tuple[str, ...]


@dataclass(frozen=True)
class Notifications:
    fallback_after_seconds: float
    reopen_window_seconds: float


@dataclass(frozen=True)
class SelfMonitoring:
    """How callwatch watches itself (the callwatch-self rule group)."""

    priority: str = "P1"
    target_down_seconds: float = 120.0
    notification_failures_seconds: float = 600.0
    escalation_lag_seconds: float = 120.0
    signature_failures: int = 5
    signature_window_seconds: float = 300.0
    probe_failing_seconds: float = 300.0
    egress_down_seconds: float = 120.0
    # days, not seconds: a certificate expires in real time, whatever the policy's time scale
    certificate_expiry_days: float = 14.0
    certificate_priority: str = "P3"   # two weeks' notice is not a page at 3 a.m.
    schedule_gap_priority: str = "P3"  # nobody on call some day in the next 14: days ahead


@dataclass(frozen=True)
class Watchdog:
    """The dead man's switch: an always-firing heartbeat the receiver expects."""

    alertname: str = "CallwatchWatchdog"
    missing_after_seconds: float = 300.0
    priority: str = "P1"
    repeat_interval_seconds: float = 60.0


@dataclass(frozen=True)
class BusinessHours:
    """UTC: PromQL's clock functions know no time zone."""

    days: tuple[int, ...] = (1, 2, 3, 4, 5)   # day_of_week() numbers
    start_minute: int = 8 * 60                # minutes after midnight, inclusive
    end_minute: int = 18 * 60                 # exclusive


@dataclass(frozen=True)
class TrafficAbsent:
    """A provider that carried calls and now carries none (TelephonyTrafficAbsent)."""

    absent_seconds: float = 900.0
    seen_within_seconds: float = 86400.0
    priority: str = "P2"
    business_hours: BusinessHours | None = field(default_factory=BusinessHours)  # None: always


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


@dataclass(frozen=True)
class Restriction:
    """A window a layer is active in: starting on each of ``days`` at ``start_minute`` (minutes
    after local midnight) and lasting until ``end_minute``; an end at or before the start runs
    into the next day ("22:00" to "06:00"), and "00:00" to "24:00" is the whole day."""

    days: tuple[int, ...]       # datetime.weekday() numbers, 0 = Monday
    start_minute: int           # 0..1439
    end_minute: int             # 1..1440


@dataclass(frozen=True)
class ScheduleLayer:
    """One rotation: ``participants`` take turns, each for ``rotate_every`` of wall-clock time
    in the schedule's zone, the first from ``start`` (naive local time). A layer is on call
    only from ``start`` on, and only inside its ``restrictions`` when it has any."""

    name: str
    start: datetime             # naive, the schedule's local wall-clock time
    rotate_every: timedelta     # wall-clock: a weekly 09:00 handoff stays at 09:00 across DST
    participants: tuple[str, ...]  # contact keys, in turn order
    restrictions: tuple[Restriction, ...] = ()


@dataclass(frozen=True)
class ScheduleOverride:
    """``contact`` is on call from ``start`` to ``end`` (naive local), over every layer."""

    contact: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    """An on-call schedule: later layers win where they are active; overrides win over all."""

    name: str
    timezone: str               # IANA name; handoffs happen in its wall-clock time
    layers: tuple[ScheduleLayer, ...]
    overrides: tuple[ScheduleOverride, ...] = ()


@dataclass(frozen=True)
class Kubernetes:
    """How ``callwatch render`` writes the Kubernetes manifests (deploy/kubernetes/).

    ``labels`` go on the PrometheusRule, ServiceMonitor and AlertmanagerConfig so that the
    operator's selectors pick them up (kube-prometheus-stack wants ``release: <its release>``).
    ``env`` holds plain settings only: secrets come from the Secret named ``secret``.
    """

    namespace: str = "callwatch"
    labels: Mapping[str, str] = field(default_factory=dict)
    image: str = "callwatch:local"
    secret: str = "callwatch"
    env: Mapping[str, str] = field(default_factory=dict)
    ingress: Ingress | None = None


@dataclass(frozen=True)
class Ingress:
    """The optional Ingress for what outsiders call (``kubernetes.ingress``): ``host`` (the
    public address's host), the IngressClass ``class_name`` (None: the cluster's default),
    ``tls_secret`` (the certificate's Secret; None: TLS ends before the Ingress, or not at all)
    and ``annotations`` for the controller."""

    host: str
    class_name: str | None = None
    tls_secret: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusPage:
    """Where the customer notice is published (the optional ``status_page`` section).

    ``provider`` is ``statuspage`` (Atlassian Statuspage); the API key comes from
    ``api_key_env`` (a variable name) or ``api_key_file`` (a path), never the policy.
    ``components`` maps a telephony provider to the Statuspage component id it affects.
    ``publish``: ``manual`` (a person publishes) or ``auto`` (P0/P1 published on opening).
    """

    provider: str
    page_id: str
    components: Mapping[str, str]
    publish: str = "manual"
    api_key_env: str | None = None
    api_key_file: str | None = None


@dataclass(frozen=True)
class Failover:
    """The team's own failover webhook (``remediation.failover``): callwatch asks, the team's
    application moves its calls. The HMAC secret comes from ``secret_env`` (a variable name)
    or ``secret_file`` (a path), never the policy. ``requires_approval``: a second person must
    approve before the webhook is called."""

    webhook: str
    requires_approval: bool = True
    secret_env: str | None = None
    secret_file: str | None = None


@dataclass(frozen=True)
class Remediation:
    """Actions callwatch may take on an incident (the optional ``remediation`` section)."""

    failover: Failover | None = None


SCHEDULE_PREFIX = "schedule:"   # a contact reference naming a schedule: "schedule:primary"


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
    self_monitoring: SelfMonitoring = field(default_factory=SelfMonitoring)
    watchdog: Watchdog = field(default_factory=Watchdog)
    traffic_absent: TrafficAbsent = field(default_factory=TrafficAbsent)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    status_page: StatusPage | None = None   # where customer notices are published, if anywhere
    remediation: Remediation = field(default_factory=Remediation)  # failover webhook
    warnings: tuple[str, ...] = ()  # what loads but will not work as meant, one line each
    text: str = field(default="", repr=False)  # the file as read (the policy ConfigMap)

    def runbook_url(self, runbook: str) -> str:
        return self.links.runbook_base_url + runbook
