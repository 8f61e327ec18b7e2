"""The Grafana dashboard and its provisioning, built with grafana-foundation-sdk (Grafana 11).

One time-series panel per threshold row per provider, with the policy's warning and critical
values drawn as thresholds, so the dashboard and the alerts can never disagree; then a row of
provider status and an incident-response row from the receiver's metrics.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

from policy import catalog
from policy.model import Policy
from policy.model import Threshold as PolicyThreshold
from policy.render import HEADER
from policy.render.yamltext import dump_yaml

DASHBOARD_UID = "callwatch-telephony"
DATASOURCE_UID = "prometheus"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
COLORS = {"ok": "green", "warning": "orange", "critical": "red"}


def threshold_steps(row: catalog.Row, threshold: PolicyThreshold) -> list[Threshold]:
    """Grafana colours a value by the highest step it reaches: order follows the row's direction."""
    if row.direction == "above":
        return [Threshold(None, COLORS["ok"]), Threshold(threshold.warning, COLORS["warning"]),
                Threshold(threshold.critical, COLORS["critical"])]
    return [Threshold(None, COLORS["critical"]), Threshold(threshold.critical, COLORS["warning"]),
            Threshold(threshold.warning, COLORS["ok"])]


def _query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def _row_panel(policy: Policy, row: catalog.Row, provider: str) -> timeseries.Panel:
    threshold = policy.thresholds[row.key]
    thresholds = (dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
                  .steps(threshold_steps(row, threshold)))
    style = common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
    panel = (timeseries.Panel()
             .title(f"{row.title} — {provider}")
             .description(f"`{row.record}`; warning {threshold.warning:g}, critical "
                          f"{threshold.critical:g} for {threshold.for_seconds:g}s "
                          f"(alert {row.alert})")
             .datasource(DATASOURCE)
             .with_target(_query(f'{row.record}{{provider="{provider}"}}', row.title))
             .unit(row.unit).thresholds(thresholds).thresholds_style(style)
             .height(8).span(24 // len(policy.providers)))
    if row.unit == "percentunit" or row.key == "provider_health":
        panel = panel.min(0)
    if row.key == "call_quality":
        panel = panel.min(1).max(5)
    return panel


def _stat(title: str, expr: str, unit: str, description: str) -> stat.Panel:
    return (stat.Panel().title(title).description(description).datasource(DATASOURCE)
            .with_target(_query(expr, title)).unit(unit).height(5).span(6))


def _incident_panels() -> list[stat.Panel]:
    return [
        _stat("Open incidents", "sum(callwatch_incidents_open)", "none",
              "Incidents triggered or acknowledged, all priorities"),
        _stat("MTTA", "sum(increase(callwatch_incident_ack_seconds_sum[$__range])) / "
              "sum(increase(callwatch_incident_ack_seconds_count[$__range]))", "s",
              "Mean time to acknowledge over the dashboard's time range"),
        _stat("MTTR", "sum(increase(callwatch_incident_resolve_seconds_sum[$__range])) / "
              "sum(increase(callwatch_incident_resolve_seconds_count[$__range]))", "s",
              "Mean time to resolve over the dashboard's time range"),
        _stat("SLA breaches", "sum(increase(callwatch_response_sla_breaches_total[$__range]))",
              "none", "Incidents not acknowledged within their priority's response time"),
    ]


def _status_panels() -> list[stat.Panel]:
    selector = '{provider=~"$provider"}'
    return [
        _stat("Provider API up", f"{catalog.PROVIDER_UP}{selector}", "none",
              "1 when the last poll of the provider's API worked"),
        _stat("Status page", f"{catalog.PROVIDER_STATUS}{selector}", "none",
              "Statuspage indicator: 0 none, 1 minor, 2 major, 3 critical"),
        _stat("Active calls", f"sum by (provider) ({catalog.CALLS_ACTIVE}{selector})", "none",
              "Calls in progress"),
        _stat("Probe success", f"min by (target) ({catalog.PROBE_SUCCESS})", "none",
              "Synthetic webhook and API probes: 1 when the last probe worked"),
    ]


def build_dashboard(policy: Policy) -> dash.Dashboard:
    providers = ",".join(policy.providers)
    builder = (dash.Dashboard("Telephony — callwatch").uid(DASHBOARD_UID)
               .description(HEADER).tags(["callwatch", "telephony", "generated"])
               .refresh("30s").time("now-6h", "now").timezone("browser")
               .tooltip(DashboardCursorSync.CROSSHAIR).editable()
               .with_variable(dash.CustomVariable("provider").label("Provider").values(providers)
                              .multi(True).include_all(True)))
    for row in catalog.ROWS.values():
        builder = builder.with_row(dash.Row(row.title))
        for provider in policy.providers:
            builder = builder.with_panel(_row_panel(policy, row, provider))
    builder = builder.with_row(dash.Row("Provider status"))
    for panel in _status_panels():
        builder = builder.with_panel(panel)
    builder = builder.with_row(dash.Row("Incident response"))
    for panel in _incident_panels():
        builder = builder.with_panel(panel)
    return builder


def render_dashboard(policy: Policy) -> str:
    """The dashboard JSON (Grafana 11 schema). JSON has no comments: the header is its
    description."""
    model = build_dashboard(policy).build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number  # Grafana wants ids unique within the dashboard
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def render_datasource_provisioning() -> str:
    return dump_yaml({"apiVersion": 1, "datasources": [{
        "name": "Prometheus", "type": "prometheus", "uid": DATASOURCE_UID, "access": "proxy",
        "url": "http://prometheus:9090", "isDefault": True, "editable": False,
    }]})


def render_dashboard_provisioning() -> str:
    return dump_yaml({"apiVersion": 1, "providers": [{
        "name": "callwatch", "folder": "callwatch", "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "options": {"path": "/var/lib/grafana/dashboards"},
    }]})
