"""deploy/alertmanager/callwatch-routes.yml: callwatch's part of a shared Alertmanager.

Every alert callwatch generates carries ``managed_by: callwatch``; the snippet's one route
matches that label and holds the very route tree, receivers and inhibit rules of
alertmanager.yml (one way to build them), its inhibit rules scoped to the label;
``callwatch render --alertmanager-snippet`` writes or checks that file alone, and the plain
``callwatch render`` writes it too. Routing through a merged config: tests/test_amtool_shared.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy import load_policy
from policy.render import (
    ALERTMANAGER_PATH,
    ALERTMANAGER_SNIPPET_PATH,
    RULES_PATH,
    RenderOptions,
    render_all,
)

REPO = Path(__file__).resolve().parent.parent
POLICIES = {"shipped": REPO / "deploy" / "policy.yaml",
            "with-fallback": REPO / "tests" / "testdata" / "policy-golden.yaml"}
MARK = 'managed_by="callwatch"'


def rendered(which: str, options: RenderOptions | None = None) -> dict[str, str]:
    return render_all(load_policy(POLICIES[which]), options or RenderOptions())


@pytest.mark.parametrize("which", POLICIES)
def test_every_alert_callwatch_generates_carries_managed_by_callwatch(which):
    groups = yaml.safe_load(rendered(which)[RULES_PATH])["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert {group["name"] for group in groups} == {"callwatch-telephony", "callwatch-self"}
    assert len(alerts) > 20
    assert [a["alert"] for a in alerts if a["labels"].get("managed_by") != "callwatch"] == []
    assert all("labels" not in rule for group in groups for rule in group["rules"]
               if "record" in rule)


@pytest.mark.parametrize("which", POLICIES)
@pytest.mark.parametrize("scale", [1, 60])
def test_the_snippet_is_alertmanager_yml_narrowed_to_callwatchs_alerts(which, scale):
    files = rendered(which, RenderOptions(time_scale=scale))
    whole = yaml.safe_load(files[ALERTMANAGER_PATH])
    part = yaml.safe_load(files[ALERTMANAGER_SNIPPET_PATH])
    assert set(part) == {"route", "receivers", "inhibit_rules"}
    assert list(part["route"]) == ["routes"]
    [route] = part["route"]["routes"]
    assert route.pop("matchers") == [MARK]
    assert route == whole["route"]  # the same tree, grouping and timings
    assert part["receivers"] == whole["receivers"]
    assert len(part["inhibit_rules"]) == len(whole["inhibit_rules"]) == 2
    for scoped, rule in zip(part["inhibit_rules"], whole["inhibit_rules"], strict=True):
        for side in ("source_matchers", "target_matchers"):
            assert scoped[side] == [*rule[side], MARK]
        assert scoped.get("equal") == rule.get("equal")


def test_the_snippet_tells_where_each_list_goes():
    text = rendered("shipped")[ALERTMANAGER_SNIPPET_PATH]
    assert "DO NOT EDIT" in text.splitlines()[0]
    assert "FIRST item of its route.routes" in text
    assert "docs/deploy.md" in text


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callwatch", "render", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


def test_render_alertmanager_snippet_writes_and_checks_that_file_alone(tmp_path):
    result = render("--alertmanager-snippet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {ALERTMANAGER_SNIPPET_PATH}"]
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] \
        == [ALERTMANAGER_SNIPPET_PATH]
    written = (tmp_path / ALERTMANAGER_SNIPPET_PATH).read_text(encoding="utf-8")
    assert written == rendered("shipped")[ALERTMANAGER_SNIPPET_PATH]
    # --check looks at that file alone: the rest of the tree is missing, and that is fine
    assert render("--alertmanager-snippet", "--check", "--out", str(tmp_path)).returncode == 0
    (tmp_path / ALERTMANAGER_SNIPPET_PATH).write_text(written + "# edited by hand\n")
    stale = render("--alertmanager-snippet", "--check", "--out", str(tmp_path))
    assert stale.returncode == 1
    assert f"stale: {ALERTMANAGER_SNIPPET_PATH}" in stale.stderr


def test_the_plain_render_writes_the_snippet_too(tmp_path):
    result = render("--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"wrote {ALERTMANAGER_SNIPPET_PATH}" in result.stdout.splitlines()
    assert f"wrote {ALERTMANAGER_PATH}" in result.stdout.splitlines()


def test_the_snippet_alone_and_the_kubernetes_manifests_alone_exclude_each_other(tmp_path):
    result = render("--alertmanager-snippet", "--kubernetes", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    assert list(tmp_path.iterdir()) == []
