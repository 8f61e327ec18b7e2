"""The generated Grafana dashboard fits an existing Grafana, checked without a Grafana server
(none can be installed on these machines):

- it names no datasource: every panel and query reads the ``datasource`` variable;
- it hard-codes no provider: every selector of a series that has a ``provider`` label (as the
  exporter, the receiver and the recording rules define them) reads ``$provider``, and the
  per-provider threshold panels repeat by it;
- it round-trips through grafana-foundation-sdk's typed Grafana 11.6 models unchanged (the
  package ships no JSON schema; a key its models do not know would be dropped);
- every query is PromQL that promtool parses once Grafana's variables are substituted;
- the alerts' ``dashboard_url`` opens it filtered to the alert's provider.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import fields, replace
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from exporter.metrics import ExporterMetrics, create_metrics
from policy import catalog, load_policy
from policy.render import RenderOptions
from policy.render.grafana import render_dashboard
from policy.render.rules import provider_dashboard_url, rule_groups
from receiver.services.metrics import ReceiverMetrics

REPO = Path(__file__).resolve().parent.parent
POLICY = load_policy(REPO / "deploy" / "policy.yaml")
DASHBOARD_TEXT = render_dashboard(POLICY)
DASHBOARD = json.loads(DASHBOARD_TEXT)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PROVIDER_FILTER = 'provider=~"$provider"'
IDENTIFIER = re.compile(r"(?<![\w:$])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\{[^}]*\})?")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _panels() -> list[dict]:
    """The panels that query (rows only group them)."""
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def _targets() -> list[tuple[dict, dict]]:
    return [(panel, target) for panel in _panels() for target in panel["targets"]]


def _series_labels() -> dict[str, frozenset[str]]:
    """Series name -> its label names, from the metric definitions themselves (the exporter's
    and the receiver's) and the recording rules, which all aggregate by provider."""
    exporter = create_metrics(CollectorRegistry())
    metrics = [getattr(exporter, field.name) for field in fields(ExporterMetrics)]
    metrics += vars(ReceiverMetrics(CollectorRegistry())).values()
    series: dict[str, frozenset[str]] = {}
    for metric in metrics:
        if isinstance(metric, MetricWrapperBase):
            for suffix in SUFFIXES[metric._type]:
                series[metric._name + suffix] = frozenset(metric._labelnames)
    for group in rule_groups(POLICY, RenderOptions()):
        for rule in group["rules"]:
            if "record" in rule:
                assert "by (provider" in rule["expr"], rule["record"]
                series[rule["record"]] = frozenset({"provider"})
    return series


def test_the_variables_are_any_prometheus_datasource_and_the_policys_providers() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert [v["name"] for v in DASHBOARD["templating"]["list"]] == ["datasource", "provider"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "current" not in variables["datasource"]  # Grafana's default Prometheus, whatever uid
    provider = variables["provider"]
    assert (provider["type"], provider["multi"], provider["includeAll"]) == ("custom", True, True)
    assert provider["query"].split(",") == list(POLICY.providers)
    assert provider["current"]["value"] == ["$__all"]


def test_every_panel_and_every_query_reads_the_datasource_variable() -> None:
    assert len(_panels()) >= len(catalog.ROWS) + 8
    for panel in _panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["refId"], panel["title"]
    assert '"uid": "prometheus"' not in DASHBOARD_TEXT


def test_no_panel_names_a_provider_and_each_threshold_row_repeats_by_provider() -> None:
    names = re.compile(r"\b(" + "|".join(POLICY.providers) + r")\b")
    for panel in _panels():
        words = [panel["title"], panel.get("description", "")]
        words += [t["expr"] + " " + t["legendFormat"] for t in panel["targets"]]
        assert not names.search(" ".join(words)), panel["title"]
    for row in catalog.ROWS.values():
        [panel] = [p for p in _panels() if p["title"] == f"{row.title} — $provider"]
        assert (panel["repeat"], panel["repeatDirection"]) == ("provider", "h")
        assert [t["expr"] for t in panel["targets"]] == [f"{row.record}{{{PROVIDER_FILTER}}}"]


def test_every_selector_of_a_provider_labelled_series_filters_by_the_provider_variable() -> None:
    series = _series_labels()
    assert {catalog.PROVIDER_UP, catalog.CALLS_ACTIVE, catalog.CALLS_ENDED} <= {
        name for name, labels in series.items() if "provider" in labels}
    filtered = 0
    for panel, target in _targets():
        used = [(m[1], m[2] or "") for m in IDENTIFIER.finditer(target["expr"]) if m[1] in series]
        assert used, f"{panel['title']}: reads no known series: {target['expr']}"
        unknown = {m[1] for m in IDENTIFIER.finditer(target["expr"])
                   if m[1].startswith(("telephony", "callwatch")) and m[1] not in series}
        assert not unknown, f"{panel['title']}: unknown series {unknown}"
        for name, selector in used:
            if "provider" in series[name]:
                assert PROVIDER_FILTER in selector, f"{panel['title']}: {name}{selector}"
                filtered += 1
            else:
                assert "provider" not in selector, f"{panel['title']}: {name}{selector}"
    assert filtered >= len(catalog.ROWS) + 3


def test_the_dashboard_round_trips_through_the_sdk_models_unchanged() -> None:
    register_default_plugins()  # panel options and Prometheus queries decode to their types
    model = Dashboard.from_json(DASHBOARD)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == DASHBOARD
    # the check has teeth: a key the models do not know is dropped, so the trip changes it
    misspelt = json.loads(DASHBOARD_TEXT)
    misspelt["panels"][1]["targets"][0]["exprr"] = "up"
    assert json.loads(json.dumps(Dashboard.from_json(misspelt), cls=JSONEncoder)) != misspelt


# What Grafana puts in place of its variables: one provider (a repeated panel, or one chosen),
# and All (a multi-value variable formats as a regex alternation for Prometheus).
SUBSTITUTIONS = {
    "one": {"$provider": "twilio", "$__range": "6h"},
    "all": {"$provider": "(twilio|telnyx)", "$__range": "6h"},
}


@pytest.mark.binaries
def test_every_panel_query_is_promql_that_promtool_parses(promtool, tmp_path) -> None:
    groups = []
    for case, values in SUBSTITUTIONS.items():
        rules = []
        for panel, target in _targets():
            expr = target["expr"]
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: a variable left: {expr}"
            rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}:{case}",
                          "expr": expr})
        groups.append({"name": f"dashboard-{case}", "rules": rules})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    count = sum(len(group["rules"]) for group in groups)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {count} rules found" in result.stdout, result.stdout + result.stderr


def test_alert_links_open_the_dashboard_filtered_to_their_provider() -> None:
    alerts = [rule for group in rule_groups(POLICY, RenderOptions()) for rule in group["rules"]
              if "dashboard_url" in rule.get("annotations", {})]
    filtered = {a["alert"] for a in alerts
                if a["annotations"]["dashboard_url"] == provider_dashboard_url(POLICY)}
    assert filtered == {row.alert for row in catalog.ROWS.values()} | {
        catalog.TRAFFIC_ABSENT_ALERT}
    for alert in alerts:
        if alert["alert"] not in filtered:  # about every provider: provider="all", no filter
            assert alert["labels"]["provider"] == "all", alert["alert"]
            assert alert["annotations"]["dashboard_url"] == POLICY.links.dashboard_url


@pytest.mark.parametrize(("link", "expected"), [
    ("http://g/d/x/telephony", "http://g/d/x/telephony?var-provider={{ $labels.provider }}"),
    ("http://g/d/x/telephony?orgId=2",
     "http://g/d/x/telephony?orgId=2&var-provider={{ $labels.provider }}"),
    ("http://g/d/x/telephony?orgId=2#top",
     "http://g/d/x/telephony?orgId=2&var-provider={{ $labels.provider }}#top"),
])
def test_the_provider_filter_keeps_the_links_own_query(link: str, expected: str) -> None:
    policy = replace(POLICY, links=replace(POLICY.links, dashboard_url=link))
    assert provider_dashboard_url(policy) == expected
