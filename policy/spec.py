"""Version ``policy/v1`` of the policy file, read strictly into the internal model."""

from __future__ import annotations

import os

from policy import catalog
from policy.durations import format_duration
from policy.matchers import parse_matcher
from policy.model import (
    PRIORITIES,
    AlertmanagerSettings,
    Evaluation,
    FallbackReceiver,
    Links,
    MinimumTraffic,
    Notifications,
    Policy,
    Priority,
    PriorityOverride,
    PrometheusSettings,
    Route,
    ServiceDown,
    Threshold,
)
from policy.reader import Node
from policy.spec_exporter import ExporterSettings, read_exporter
from policy.spec_kubernetes import read_kubernetes
from policy.spec_people import (
    contact_warnings,
    read_channels,
    read_contacts,
    read_escalation,
    read_vendors,
)
from policy.spec_remediation import read_remediation
from policy.spec_schedules import read_schedules
from policy.spec_self import read_self_monitoring, read_traffic_absent, read_watchdog
from policy.spec_status_page import read_status_page

VERSION = "policy/v1"
PROVIDERS = ("twilio", "telnyx")

_TOP_REQUIRED = (
    "version", "providers", "links", "evaluation", "minimum_traffic", "majority_traffic_share",
    "thresholds", "service_down", "priorities", "routing", "notifications", "alertmanager",
    "prometheus", "channels", "contacts", "escalation",
)
_TOP_OPTIONAL = ("priority_overrides", "severity_default", "vendors", "templates", "exporter",
                 "self_monitoring", "watchdog", "traffic_absent", "schedules", "kubernetes",
                 "status_page", "remediation")


def read_policy(root: Node) -> Policy:
    """The model for a ``policy/v1`` document; raises PolicyError at the first problem."""
    root.mapping(_TOP_REQUIRED, _TOP_OPTIONAL)
    version = root.child("version")
    if version.value != VERSION:
        raise version.error(f"unsupported version {version.value!r}; expected {VERSION!r}")
    providers = _read_providers(root.child("providers"))
    priorities = _read_priorities(root.child("priorities"))
    channels = read_channels(root.child("channels"))
    contacts = read_contacts(root.child("contacts"))
    schedules = read_schedules(root.child("schedules"), contacts)
    exporter = read_exporter(root.child("exporter"))
    evaluation = _read_evaluation(root.child("evaluation"))
    alertmanager = _read_alertmanager(root.child("alertmanager"))
    _check_api_guard(root.child("minimum_traffic"), evaluation, exporter, providers)
    _check_latency_buckets(root.child("thresholds").child("api_response_time"))
    watchdog = read_watchdog(root.child("watchdog"))
    _check_heartbeat(root.child("watchdog"), watchdog, alertmanager)
    return Policy(
        source=root.source,
        providers=providers,
        links=_read_links(root.child("links")),
        evaluation=evaluation,
        minimum_traffic=_read_minimum_traffic(root.child("minimum_traffic")),
        majority_traffic_share=_read_share(root.child("majority_traffic_share")),
        thresholds=_read_thresholds(root.child("thresholds")),
        service_down=_read_service_down(root.child("service_down")),
        priorities=priorities,
        priority_overrides=_read_overrides(root.child("priority_overrides")),
        severity_default=_read_severity_default(root.child("severity_default")),
        routing=_read_routing(root.child("routing"), channels),
        notifications=_read_notifications(root.child("notifications")),
        alertmanager=alertmanager,
        prometheus=_read_prometheus(root.child("prometheus")),
        channels=channels,
        contacts=contacts,
        escalation=read_escalation(root.child("escalation"), contacts, channels, schedules),
        schedules=schedules,
        vendors=read_vendors(root.child("vendors"), providers),
        templates=_read_templates(root.child("templates")),
        exporter=exporter,
        self_monitoring=read_self_monitoring(root.child("self_monitoring")),
        watchdog=watchdog,
        traffic_absent=read_traffic_absent(root.child("traffic_absent")),
        kubernetes=read_kubernetes(root.child("kubernetes"), channels),
        status_page=read_status_page(root.child("status_page"), providers, channels),
        remediation=read_remediation(root.child("remediation")),
        warnings=contact_warnings(root.child("contacts")),
    )


def _read_providers(node: Node) -> tuple[str, ...]:
    providers = tuple(item.choice(PROVIDERS, "provider") for item in node.each())
    if not providers:
        raise node.error("must name at least one provider")
    if len(set(providers)) != len(providers):
        raise node.error("names a provider twice")
    return providers


def _read_links(node: Node) -> Links:
    node.mapping(("runbook_base_url", "dashboard_url", "status_page_url"))
    return Links(*(node.child(key).string() for key in
                   ("runbook_base_url", "dashboard_url", "status_page_url")))


def _read_evaluation(node: Node) -> Evaluation:
    keys = ("scrape_interval", "evaluation_interval", "rate_window", "keep_firing_for")
    node.mapping(keys)
    values = [node.child(key).duration() for key in keys]
    for key, value in zip(keys[:3], values[:3], strict=True):
        if value <= 0:
            raise node.child(key).error("must be longer than 0s")
    if values[2] < 2 * values[0]:
        raise node.child("rate_window").error(
            "must be at least twice scrape_interval, or rate() sees too few samples")
    return Evaluation(*values)


def _read_minimum_traffic(node: Node) -> MinimumTraffic:
    keys = ("answered_calls", "webhook_deliveries", "api_requests")
    node.mapping(keys, ("api_bad_requests",))
    bad = node.child("api_bad_requests").integer(1) if node.has("api_bad_requests") else 2
    return MinimumTraffic(*(node.child(key).integer() for key in keys), api_bad_requests=bad)


def _check_api_guard(node: Node, evaluation: Evaluation, exporter: ExporterSettings,
                     providers: tuple[str, ...]) -> None:
    """The API rows' guard must let them fire on callwatch's own polls alone."""
    guard = node.child("api_requests").integer()
    window = evaluation.rate_window_seconds
    for provider in providers:
        polls, words = catalog.guaranteed_api_requests(window, exporter.poll_intervals,
                                                       provider)
        if guard > polls:
            raise node.child("api_requests").error(
                f"{guard} is more than the {polls} {provider} API requests callwatch's own polls "
                f"make in the {format_duration(window)} rate window ({words}): without "
                f"application traffic the error-rate and API-latency alerts could never fire; "
                f"lower it or poll more often (exporter.poll_intervals)")


def _check_latency_buckets(node: Node) -> None:
    """Slow requests are counted from the histogram's buckets: thresholds must be bounds."""
    for key in ("warning", "critical"):
        value = node.child(key).number()
        if value not in catalog.API_BUCKETS:
            bounds = ", ".join(f"{bound:g}" for bound in catalog.API_BUCKETS)
            raise node.child(key).error(
                f"must be one of the API latency histogram's bucket bounds ({bounds}), "
                f"got {value:g}")


def _check_heartbeat(node: Node, watchdog, alertmanager: AlertmanagerSettings) -> None:
    """The heartbeat must arrive (repeat plus group interval) well within ``missing_after``."""
    arrives = watchdog.repeat_interval_seconds + alertmanager.group_interval_seconds
    if arrives >= watchdog.missing_after_seconds:
        at = node.child("missing_after") if node.has("missing_after") else node
        raise at.error(
            f"must be longer than watchdog.repeat_interval plus alertmanager.group_interval "
            f"({format_duration(arrives)}), or the receiver would call the pipeline silent "
            f"between two heartbeats")


def _read_share(node: Node) -> float:
    share = node.number()
    if not 0 < share < 1:
        raise node.error(f"must be between 0 and 1, got {share:g}")
    return share


def _read_priority_key(node: Node) -> str:
    return node.choice(PRIORITIES, "priority")


def _read_thresholds(node: Node) -> dict[str, Threshold]:
    node.mapping(tuple(catalog.ROWS))
    return {key: _read_threshold(node.child(key), catalog.ROWS[key]) for key in catalog.ROWS}


def _read_threshold(node: Node, row: catalog.Row) -> Threshold:
    node.mapping(("warning", "critical", "for", "runbook", "priority"))
    warning, critical = node.child("warning").number(), node.child("critical").number()
    if row.breaches(warning, critical) or warning == critical:
        side = "below" if row.direction == "above" else "above"
        raise node.child("warning").error(
            f"must be {side} critical ({critical:g}) since {row.title} alerts when it goes "
            f"{row.direction} the threshold, got {warning:g}")
    for_seconds = node.child("for").duration()
    prio = node.child("priority").mapping(("warning", "critical"), ("critical_majority",))
    majority = prio.child("critical_majority")
    return Threshold(
        key=row.key, warning=warning, critical=critical, for_seconds=for_seconds,
        runbook=node.child("runbook").string(),
        priority_warning=_read_priority_key(prio.child("warning")),
        priority_critical=_read_priority_key(prio.child("critical")),
        priority_critical_majority=_read_priority_key(majority) if prio.has("critical_majority")
        else None,
    )


def _read_service_down(node: Node) -> ServiceDown:
    node.mapping(("for", "priority", "runbook"))
    return ServiceDown(node.child("for").duration(), _read_priority_key(node.child("priority")),
                       node.child("runbook").string())


def _read_priorities(node: Node) -> dict[str, Priority]:
    node.mapping(PRIORITIES)
    result = {}
    for key in PRIORITIES:
        entry = node.child(key)
        entry.mapping(("response_time",), ("name", "description"))
        response = entry.child("response_time").duration()
        if response <= 0:
            raise entry.child("response_time").error("must be longer than 0s")
        name = entry.child("name").string() if entry.has("name") else key
        text = entry.child("description").string() if entry.has("description") else ""
        result[key] = Priority(key, name, response, text)
    return result


def _read_overrides(node: Node) -> tuple[PriorityOverride, ...]:
    if node.value is None:
        return ()

    def read(item: Node) -> PriorityOverride:
        item.mapping(("matchers", "priority"))
        matchers = item.child("matchers").list_of(_read_matcher)
        if not matchers:
            raise item.child("matchers").error("must hold at least one matcher")
        return PriorityOverride(matchers, _read_priority_key(item.child("priority")))

    return node.list_of(read)


def _read_matcher(node: Node) -> str:
    text = node.string()
    try:
        parse_matcher(text)
    except ValueError as exc:
        raise node.error(str(exc)) from None
    return text


def _read_severity_default(node: Node) -> dict[str, str]:
    if node.value is None:
        return {"critical": "P2", "warning": "P3", "info": "P3"}
    node.mapping(("critical", "warning"), ("info",))
    return {key: _read_priority_key(child) for key, child in node.items()}


def _read_routing(node: Node, channels: dict) -> dict[str, Route]:
    node.mapping(PRIORITIES)
    routes = {}
    for key in PRIORITIES:
        entry = node.child(key).mapping(("channels",), ("fallback",))
        names = {}
        for field in ("channels", "fallback"):
            child = entry.child(field)
            names[field] = () if child.value is None else tuple(
                item.choice(sorted(channels), "channel") for item in child.each())
        if not names["channels"]:
            raise entry.child("channels").error("must name at least one channel")
        routes[key] = Route(key, names["channels"], names["fallback"])
    return routes


def _read_notifications(node: Node) -> Notifications:
    node.mapping(("fallback_after", "reopen_window"))
    return Notifications(node.child("fallback_after").duration(),
                         node.child("reopen_window").duration())


def _read_alertmanager(node: Node) -> AlertmanagerSettings:
    node.mapping(("receiver_url", "token_file", "group_wait", "group_interval", "repeat_interval"),
                 ("fallback_receiver",))
    repeat = node.child("repeat_interval").mapping(PRIORITIES)
    return AlertmanagerSettings(
        receiver_url=node.child("receiver_url").string(),
        token_file=node.child("token_file").string(),
        group_wait_seconds=node.child("group_wait").duration(),
        group_interval_seconds=node.child("group_interval").duration(),
        repeat_interval_seconds={key: repeat.child(key).duration() for key in PRIORITIES},
        fallback_receiver=_read_fallback_receiver(node.child("fallback_receiver")),
    )


def _read_fallback_receiver(node: Node) -> FallbackReceiver | None:
    """``{webhook_url: URL}`` or ``{pagerduty_routing_key_file: PATH}``: exactly one."""
    if node.value is None:
        return None
    keys = ("webhook_url", "pagerduty_routing_key_file")
    node.mapping((), keys)
    given = [key for key in keys if node.has(key)]
    if len(given) != 1:
        raise node.error("must hold exactly one of webhook_url or pagerduty_routing_key_file")
    value = node.child(given[0]).string()
    if given[0] == "webhook_url":
        if not value.startswith(("http://", "https://")):
            raise node.child("webhook_url").error(
                f"must be an http:// or https:// URL, got {value!r}")
        return FallbackReceiver(webhook_url=value)
    return FallbackReceiver(pagerduty_routing_key_file=value)


def _read_prometheus(node: Node) -> PrometheusSettings:
    node.mapping(("callwatch_targets", "alertmanagers"))
    return PrometheusSettings(node.child("callwatch_targets").strings(),
                              node.child("alertmanagers").strings())


def _read_templates(node: Node) -> dict[str, str]:
    """Template overrides by path; relative paths are relative to the policy file."""
    if node.value is None:
        return {}
    node.mapping((), catalog.TEMPLATE_NAMES)
    base = os.path.dirname(node.source)
    return {name: os.path.join(base, child.string()) for name, child in node.items()}
