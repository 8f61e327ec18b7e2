"""Templates: every field the notices need present, HTML escaped, sandboxed, overridable."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.domain.communications import TEMPLATES, Communications, TemplateError


def _context(**incident_changes) -> dict:
    incident = {
        "id": "inc-42", "priority": "P1", "priority_name": "High", "response_time": "30m",
        "state": "triggered", "summary": "Call Drop Rate critical on twilio",
        "impact": "6.2% of answered calls dropped on twilio", "provider": "twilio",
        "opened_at": "2026-11-27T03:00:00Z", "acked_at": None, "acked_by": None,
        "resolved_at": None, "owner": None,
        "alerts": [{"alertname": "TelephonyCallDropRateHigh", "severity": "critical",
                    "provider": "twilio",
                    "description": "6.2% of answered calls dropped on twilio over the last 5m "
                                   "(critical above 5%)."}],
    }
    incident.update(incident_changes)
    return {
        "service": "Telephony Platform", "incident": incident,
        "links": {"runbook": "https://runbooks.example/high-call-drop-rate.md",
                  "dashboard": "https://grafana.example/d/x", "status_page": "https://status.example/",
                  "incident": "http://127.0.0.1:9120/incidents/inc-42"},
        "timeline": [{"at": "2026-11-27T03:00:00Z", "kind": "opened", "actor": None,
                      "detail": "TelephonyCallDropRateHigh firing"}],
        "action_items": [],
        "report": {"mtta": None, "mttr": None, "sla_breached": False},
        "vendor": {"name": "Twilio", "account_id": "AC123",
                   "account_id_source": "TWILIO_ACCOUNT_SID",
                   "connection_id": None, "issue_type": "Outage", "time_window": "03:00-03:35 UTC",
                   "affected_services": ["Programmable Voice"],
                   "affected_numbers": ["+15005550006"],
                   "error_messages": ["SIP 503 Service Unavailable"],
                   "example_call_ids": ["CA0001", "CA0002"]},
        "contact": {"name": "On-call Engineer", "title": "SRE", "company": "Example Corp",
                    "phone": "+15005550001", "email": "oncall@example.com"},
        "items": [{"priority": "P3", "summary": "Call Quality Score warning on telnyx",
                   "incident_id": "inc-7", "kind": "trigger"}],
    }


@pytest.fixture
def comms() -> Communications:
    return Communications()


def test_every_builtin_template_compiles(comms: Communications) -> None:
    comms.check()


def test_the_internal_notice_carries_the_seed_fields(comms: Communications) -> None:
    text = comms.render("internal_notice", **_context())
    for field in ("P1", "Telephony Platform", "6.2% of answered calls dropped on twilio",
                  "2026-11-27T03:00:00Z", "unassigned", "https://status.example/",
                  "https://runbooks.example/high-call-drop-rate.md"):
        assert field in text


def test_the_customer_notice_says_investigating_then_restored(comms: Communications) -> None:
    open_text = comms.render("customer_notice", **_context())
    assert "Status: Investigating" in open_text and "https://status.example/" in open_text
    resolved = comms.render("customer_notice",
                            **_context(state="resolved", resolved_at="2026-11-27T03:40:00Z"))
    assert "restored" in resolved and "2026-11-27T03:40:00Z" in resolved


def test_the_vendor_email_holds_what_the_vendor_asks_for(comms: Communications) -> None:
    text = comms.render("vendor_email", **_context())
    assert text.startswith("Subject: URGENT: service escalation - Twilio account AC123")
    for field in ("AC123", "+15005550006", "SIP 503 Service Unavailable", "CA0001",
                  "03:00-03:35 UTC", "6.2% of answered calls dropped"):
        assert field in text


def test_the_report_leaves_people_parts_as_marked_prompts(comms: Communications) -> None:
    text = comms.render("post_incident_report", **_context())
    for section in ("## 1. Executive summary", "## 2. Timeline", "## 3. Root cause analysis",
                    "## 4. Impact assessment", "## 5. Lessons learned",
                    "## 6. Preventive measures"):
        assert section in text
    assert text.count("**TO DO**") >= 8
    assert "| 2026-11-27T03:00:00Z | opened | callwatch |" in text


def test_html_templates_escape_what_they_insert(comms: Communications) -> None:
    html = comms.render("internal_notice_html", **_context(summary="<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = comms.render("internal_notice", **_context(summary="<b>x</b>"))
    assert "<b>x</b>" in text  # plain text is not HTML: left as written


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    evil = tmp_path / "evil.j2"
    evil.write_text("{{ incident.__class__.__mro__[1].__subclasses__() }}")
    comms = Communications({"internal_notice": str(evil)})
    with pytest.raises(TemplateError, match="internal_notice"):
        comms.render("internal_notice", **_context())


def test_a_policy_override_replaces_the_builtin_template(tmp_path: Path) -> None:
    mine = tmp_path / "notice.j2"
    mine.write_text("Heads up: {{ incident.summary }}")
    assert Communications({"internal_notice": str(mine)}).render(
        "internal_notice", **_context()) == "Heads up: Call Drop Rate critical on twilio"


def test_a_broken_override_fails_at_start_up_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.j2"
    broken.write_text("{% if %}")
    with pytest.raises(TemplateError, match="customer_notice: line 1"):
        Communications({"customer_notice": str(broken)}).check()


def test_an_unknown_template_name_is_refused() -> None:
    with pytest.raises(TemplateError, match="unknown template 'pager_poem'"):
        Communications({"pager_poem": "/dev/null"})


def test_a_missing_field_is_an_error_not_a_blank(comms: Communications) -> None:
    context = _context()
    del context["incident"]["impact"]
    with pytest.raises(TemplateError, match="internal_notice"):
        comms.render("internal_notice", **context)


def test_the_template_table_names_files_that_exist() -> None:
    from receiver.domain.communications import BUILTIN_DIR

    for file_name in TEMPLATES.values():
        assert (BUILTIN_DIR / file_name).is_file()
