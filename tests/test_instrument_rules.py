"""The recording rules add an application's own provider traffic (``callwatch.instrument``,
scraped as its own job) to callwatch's polls: promtool runs the generated rules file on two scrape
jobs exporting the same metrics, and the recorded error rate, p95 and traffic guard are those of
the two together."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.metrics import API_BUCKETS
from policy import catalog
from policy.render.rules import recording_exprs

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "deploy" / "prometheus" / "rules" / "telephony.rules.yml"
JOBS = {"callwatch": "callwatch:9120", "app": "app:8000"}

pytestmark = pytest.mark.binaries


def requests_series(job: str, outcome: str, per_minute: float) -> dict:
    labels = (f'job="{job}",instance="{JOBS[job]}",provider="twilio",operation="calls",'
              f'outcome="{outcome}"')
    return {"series": f"{catalog.API_REQUESTS}{{{labels}}}", "values": f"0+{per_minute}x20"}


def bucket_series(job: str, slowest: float, per_minute: int) -> list[dict]:
    """Cumulative buckets of ``per_minute`` requests a minute, each just under ``slowest``."""
    series = []
    for le in (*API_BUCKETS, "+Inf"):
        count = per_minute if le == "+Inf" or le >= slowest else 0
        labels = f'job="{job}",instance="{JOBS[job]}",provider="twilio",operation="calls",le="{le}"'
        series.append({"series": f"{catalog.API_DURATION}_bucket{{{labels}}}",
                       "values": f"0+{count}x20"})
    return series


def error_rate_case(series: list[dict], per_10000: int) -> dict:
    return {"interval": "1m", "input_series": series, "promql_expr_test": [{
        "expr": f"round({catalog.ROWS['error_rate'].record} * 10000)", "eval_time": "10m",
        "exp_samples": [{"labels": '{provider="twilio"}', "value": per_10000}]}]}


def firing(alerts: bool) -> dict:
    """Whether some TelephonyErrorRateHigh (of any severity) fires for twilio at 10m."""
    expr = (f'max by (provider) (ALERTS{{alertname="{catalog.ROWS["error_rate"].alert}",'
            'alertstate="firing"})')
    samples = [{"labels": '{provider="twilio"}', "value": 1}] if alerts else []
    return {"expr": expr, "eval_time": "10m", "exp_samples": samples}


def guard_cases(policy) -> list[dict]:
    """Each job alone makes 3/4 of the policy's minimum API requests in the window, so the
    error-rate row stays quiet on either; the two together pass it (and the minimum of failed
    requests, where the policy has one)."""
    window = policy.evaluation.rate_window_seconds / 60   # minutes; the series step is 1m
    minimum = policy.minimum_traffic.api_requests
    errors = max(getattr(policy.minimum_traffic, "api_bad_requests", 0), 1) * 1.25
    each = minimum * 0.75
    assert errors < each and errors / (2 * each) > policy.thresholds["error_rate"].warning
    app = [requests_series("app", "success", (each - errors) / window),
           requests_series("app", "error", errors / window)]
    callwatch = [requests_series("callwatch", "success", each / window)]
    return [{"interval": "1m", "input_series": app + callwatch, "promql_expr_test": [firing(True)]},
            {"interval": "1m", "input_series": app, "promql_expr_test": [firing(False)]}]


def cases(policy) -> list[dict]:
    return [
        # callwatch's polls: 100 a minute, all fine; the app: 80 fine and 20 failed a minute.
        # 20 failed of 200 is 10%: neither job's own rate (0% and 20%).
        error_rate_case([requests_series("callwatch", "success", 100),
                         requests_series("app", "success", 80),
                         requests_series("app", "error", 20)], 1000),
        # p95 over both jobs' buckets: 50 fast (callwatch) and 50 slow (app) requests a minute,
        # so the 95th of each 100 is slow: 1.45 s, not callwatch's 0.0975 s nor the app's 1.475.
        {"interval": "1m",
         "input_series": [*bucket_series("callwatch", 0.1, 50), *bucket_series("app", 1.5, 50)],
         "promql_expr_test": [{
             "expr": f"round({catalog.ROWS['api_response_time'].record} * 1000)",
             "eval_time": "10m", "exp_samples": [{"labels": '{provider="twilio"}',
                                                  "value": 1450}]}]},
        *guard_cases(policy),
    ]


def promtool_test(promtool: str, policy, directory: Path,
                  rules: Path) -> subprocess.CompletedProcess:
    document = {"rule_files": [str(rules)], "evaluation_interval": "1m",
                "group_eval_order": ["callwatch-telephony"], "tests": cases(policy)}
    (directory / "two_jobs.test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", "two_jobs.test.yml"], cwd=directory,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_api_recording_rules_sum_by_provider_across_jobs_and_instances(policy):
    exprs = recording_exprs(policy, "5m")
    error_rate = exprs[catalog.ROWS["error_rate"].record]
    p95 = exprs[catalog.ROWS["api_response_time"].record]
    errors = f'{catalog.API_REQUESTS}{{outcome="error"}}'
    assert f"sum by (provider) (rate({errors}[5m]))" in error_rate
    assert f"sum by (provider) (rate({catalog.API_REQUESTS}[5m]))" in error_rate
    assert f"sum by (provider, le) (rate({catalog.API_DURATION}_bucket[5m]))" in p95
    assert "job" not in error_rate + p95 and "instance" not in error_rate + p95


def test_the_rules_combine_the_apps_job_with_callwatchs_job(promtool, policy, tmp_path):
    result = promtool_test(promtool, policy, tmp_path, RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_same_cases_fail_on_rules_that_keep_the_jobs_apart(promtool, policy, tmp_path):
    # The proof can fail: per-job error rates and quantiles are not the combined ones.
    split = RULES.read_text().replace("sum by (provider)", "sum by (provider, job)")
    split = split.replace("sum by (provider, le)", "sum by (provider, job, le)")
    rules = tmp_path / "split.rules.yml"
    rules.write_text(split)
    result = promtool_test(promtool, policy, tmp_path, rules)
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    # The three cases with both jobs fail, each on its own expression.
    assert report.count("exp:") == 3, report
    for expr in ("error_rate:ratio", "api_response_time_seconds:p95", "ALERTS"):
        assert expr in report, report
