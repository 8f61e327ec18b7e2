"""The Grafana dashboard and its provisioning, built with grafana-foundation-sdk (Grafana 11).

One time-series panel per threshold row, repeated for each selected provider, with the policy's
warning and critical values drawn as thresholds, so the dashboard and the alerts can never
disagree; then a row of provider status and an incident-response row from the receiver's
metrics.

The dashboard names no datasource: every panel and query reads the ``datasource`` variable (any
Prometheus datasource of the Grafana it is imported into, its default one first), so it fits an
existing Grafana whatever its Prometheus is called. Every selector of a series that has a
``provider`` label reads the ``provider`` variable (several, or All), which the alerts'
``dashboard_url`` sets (policy/render/rules.py).
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
    VariableOption,
)

from policy import catalog
from policy.model import Policy
from policy.model import Threshold as PolicyThreshold
from policy.render import HEADER
from policy.render.yamltext import dump_yaml

DASHBOARD_UID = "callwatch-telephony"
# The uid of the datasource our own provisioning creates; the dashboard does not depend on it.
DATASOURCE_UID = "prometheus"
DATASOURCE_VARIABLE = "datasource"
PROVIDER_VARIABLE = "provider"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")
PROVIDER_SELECTOR = '{provider=~"$' + PROVIDER_VARIABLE + '"}'
COLORS = {"ok": "green", "warning": "orange", "critical": "red"}


def threshold_steps(row: catalog.Row, threshold: PolicyThreshold) -> list[Threshold]:
    """Grafana colours a value by the highest step it reaches: order follows the row's direction."""
    if row.direction == "above":
        return [Threshold(None, COLORS["ok"]), Threshold(threshold.warning, COLORS["warning"]),
                Threshold(threshold.critical, COLORS["critical"])]
    return [Threshold(None, COLORS["critical"]), Threshold(threshold.critical, COLORS["warning"]),
            Threshold(threshold.warning, COLORS["ok"])]


def _query(expr: str, legend: str) -> prometheus.Dataquery:
    return (prometheus.Dataquery().expr(expr).legend_format(legend).ref_id("A")
            .datasource(DATASOURCE))


def _row_panel(policy: Policy, row: catalog.Row) -> timeseries.Panel:
    """One panel per selected provider: Grafana repeats it, ``$provider`` one value in each."""
    threshold = policy.thresholds[row.key]
    thresholds = (dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
                  .steps(threshold_steps(row, threshold)))
    style = common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
    panel = (timeseries.Panel()
             .title(f"{row.title} — ${PROVIDER_VARIABLE}")
             .description(f"`{row.record}`; warning {threshold.warning:g}, critical "
                          f"{threshold.critical:g} for {threshold.for_seconds:g}s "
                          f"(alert {row.alert})")
             .datasource(DATASOURCE)
             .with_target(_query(f"{row.record}{PROVIDER_SELECTOR}", "{{provider}}"))
             .repeat(PROVIDER_VARIABLE).repeat_direction("h")
             .unit(row.unit).thresholds(thresholds).thresholds_style(style)
             .height(8).span(24 // len(policy.providers)))
    if row.unit == "percentunit" or row.key == "provider_health":
        panel = panel.min(0)
    if row.key == "call_quality":
        panel = panel.min(1).max(5)
    return panel


def _stat(title: str, expr: str, unit: str, description: str,
          legend: str | None = None) -> stat.Panel:
    return (stat.Panel().title(title).description(description).datasource(DATASOURCE)
            .with_target(_query(expr, legend or title)).unit(unit).height(5).span(6))


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
    """One value per selected provider (the probes have no provider label: one per target)."""
    selector, provider = PROVIDER_SELECTOR, "{{provider}}"
    return [
        _stat("Provider API up", f"max by (provider) ({catalog.PROVIDER_UP}{selector})", "none",
              "1 when the last poll of the provider's API worked", provider),
        _stat("Status page", f"max by (provider) ({catalog.PROVIDER_STATUS}{selector})", "none",
              "Statuspage indicator: 0 none, 1 minor, 2 major, 3 critical", provider),
        _stat("Active calls", f"sum by (provider) ({catalog.CALLS_ACTIVE}{selector})", "none",
              "Calls in progress", provider),
        _stat("Probe success", f"min by (target) ({catalog.PROBE_SUCCESS})", "none",
              "Synthetic webhook and API probes: 1 when the last probe worked", "{{target}}"),
    ]


def _variables(policy: Policy) -> list:
    """``datasource`` (any Prometheus, the default one first) and ``provider`` (the policy's
    providers, several or All; All at first, and what a link without ``var-provider`` shows)."""
    everything = VariableOption(selected=True, text=["All"], value=["$__all"])
    return [
        dash.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus"),
        dash.CustomVariable(PROVIDER_VARIABLE).label("Provider")
        .values(",".join(policy.providers)).multi(True).include_all(True).current(everything),
    ]


def build_dashboard(policy: Policy) -> dash.Dashboard:
    builder = (dash.Dashboard("Telephony — callwatch").uid(DASHBOARD_UID)
               .description(HEADER).tags(["callwatch", "telephony", "generated"])
               .refresh("30s").time("now-6h", "now").timezone("browser")
               .tooltip(DashboardCursorSync.CROSSHAIR).editable())
    for variable in _variables(policy):
        builder = builder.with_variable(variable)
    for row in catalog.ROWS.values():
        builder = builder.with_row(dash.Row(row.title)).with_panel(_row_panel(policy, row))
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
