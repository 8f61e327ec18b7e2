"""What the renderers promise beyond byte-for-byte goldens: one edit, every tool agrees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policy import catalog, parse_policy
from policy.render import (
    ALERTMANAGER_PATH,
    DASHBOARD_PATH,
    RULES_PATH,
    RenderOptions,
    render_all,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_POLICY = (REPO / "deploy" / "policy.yaml").read_text(encoding="utf-8")


def _render(text: str = DEFAULT_POLICY, options: RenderOptions | None = None) -> dict[str, str]:
    return render_all(parse_policy(text, "policy.yaml"), options or RenderOptions())


def _alerts(files: dict[str, str]) -> list[dict]:
    groups = yaml.safe_load(files[RULES_PATH])["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _dashboard_steps(files: dict[str, str], title: str) -> list:
    dashboard = json.loads(files[DASHBOARD_PATH])
    panel = next(p for p in dashboard["panels"] if p["title"] == title)
    return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_editing_a_threshold_changes_the_rule_and_the_dashboard_together() -> None:
    before = _render()
    edited = DEFAULT_POLICY.replace("    warning: 0.03\n    critical: 0.05\n",
                                    "    warning: 0.03\n    critical: 0.08\n")
    after = _render(edited)
    critical = [a["expr"] for a in _alerts(after)
                if a["alert"] == "TelephonyCallDropRateHigh"
                and a["labels"]["severity"] == "critical"]
    assert critical and all("telephony:call_drop_rate:ratio > 0.08" in e for e in critical)
    assert _dashboard_steps(after, "Call Drop Rate — $provider") == [None, 0.03, 0.08]
    assert _dashboard_steps(before, "Call Drop Rate — $provider") == [None, 0.03, 0.05]
    assert after[ALERTMANAGER_PATH] == before[ALERTMANAGER_PATH]


def test_editing_a_group_timing_changes_the_alertmanager_config() -> None:
    edited = DEFAULT_POLICY.replace("  group_wait: 10s\n", "  group_wait: 30s\n")
    route = yaml.safe_load(_render(edited)[ALERTMANAGER_PATH])["route"]
    assert route["group_wait"] == "30s"


def test_every_row_has_a_warning_and_a_critical_alert_with_the_contract_labels() -> None:
    alerts = _alerts(_render())
    for row in catalog.ROWS.values():
        mine = [a for a in alerts if a["alert"] == row.alert]
        assert {a["labels"]["severity"] for a in mine} == {"warning", "critical"}, row.alert
        for alert in mine:
            assert set(alert["annotations"]) == {"summary", "description", "runbook_url",
                                                 "dashboard_url"}
            assert alert["labels"]["priority"] in ("P0", "P1", "P2", "P3")


def test_the_service_down_alert_is_p0_about_all_providers() -> None:
    down = [a for a in _alerts(_render()) if a["alert"] == catalog.SERVICE_DOWN_ALERT]
    assert len(down) == 1
    assert down[0]["labels"] == {"severity": "critical", "priority": "P0", "provider": "all",
                                 "managed_by": "callwatch"}


def test_the_recording_rules_are_exactly_the_contract_names() -> None:
    groups = yaml.safe_load(_render()[RULES_PATH])["groups"]
    records = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
    assert records == {row.record for row in catalog.ROWS.values()} | {
        catalog.TRAFFIC_SHARE_RECORD, catalog.CALL_SUCCESS_RECORD}


@pytest.mark.parametrize(("scale", "expected_for", "expected_window"), [
    (1, "5m", "[5m]"),
    (60, "5s", "[5s]"),
    (600, "500ms", "[4s]"),  # the window never drops below four (scaled, >= 1s) scrape intervals
])
def test_time_scale_shrinks_for_and_rate_windows(scale, expected_for, expected_window) -> None:
    drop = next(a for a in _alerts(_render(options=RenderOptions(time_scale=scale)))
                if a["alert"] == "TelephonyCallDropRateHigh")
    assert drop["for"] == expected_for
    assert expected_window in drop["expr"]


def test_the_dashboard_has_one_panel_per_row_repeated_by_provider_and_incident_response() -> None:
    dashboard = json.loads(_render()[DASHBOARD_PATH])
    titles = [p["title"] for p in dashboard["panels"]]
    for row in catalog.ROWS.values():
        assert titles.count(f"{row.title} — $provider") == 1  # tests/test_grafana_dashboard.py
    assert {"Open incidents", "MTTA", "MTTR", "SLA breaches"} <= set(titles)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert _dashboard_steps(_render(), "Call Quality Score — $provider") == [None, 3.0, 3.5]
