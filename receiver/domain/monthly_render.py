"""The monthly review (``receiver.domain.monthly``) as Markdown and as one HTML page, with its
charts (``receiver.domain.charts``: text bars in Markdown, inline SVG in HTML). Pure.

Both carry the same sections in the same order (``sections``): incidents per priority and
alert name, MTTA/MTTR per priority beside the three months before, SLA breaches, the noisiest
alerts, pages per channel, action items, drills. Durations read as Prometheus durations ("4m12s").
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from receiver.domain import charts
from receiver.domain.context import human

Table = tuple[list[str], list[list[Any]]]
Chart = tuple[str, list[str], dict[str, list[float | None]], str]


def _minutes(cells: Sequence[dict[str, Any]], key: str) -> list[float | None]:
    return [None if c[key] is None else round(c[key] / 60, 1) for c in cells]


def _response_table(review: dict[str, Any], key: str) -> Table:
    months = review["response"]["months"]
    rows = [[p, *[human(c[key]) or "n/a" for c in cells]]
            for p, cells in review["response"]["by_priority"].items()]
    return ["priority", *months], rows


def sections(review: dict[str, Any]) -> list[tuple[str, Table, Chart | None]]:
    """(heading, table, chart or None) for each section, in order."""
    incidents, response = review["incidents"], review["response"]
    by_priority = list(incidents["by_priority"].items())
    months = response["months"]
    trend = {key: {p: _minutes(cells, key) for p, cells in response["by_priority"].items()}
             for key in ("mtta_seconds", "mttr_seconds")}
    pages = review["pages"]["by_channel"]
    items = review["action_items"]
    return [
        ("Incidents per priority", (["priority", "incidents"], [list(p) for p in by_priority]),
         ("Incidents per priority", [p for p, _ in by_priority],
          {"incidents": [n for _, n in by_priority]}, "")),
        ("Incidents per alert name", (["alert name", "incidents"],
                                      [[a["alertname"] or "(declared by hand)", a["incidents"]]
                                       for a in incidents["by_alertname"]]), None),
        ("Time to acknowledge (MTTA)", _response_table(review, "mtta_seconds"),
         ("MTTA per month (minutes)", months, trend["mtta_seconds"], " min")),
        ("Time to resolve (MTTR)", _response_table(review, "mttr_seconds"),
         ("MTTR per month (minutes)", months, trend["mttr_seconds"], " min")),
        (f"SLA breaches: {review['sla_breaches']['total']}",
         (["incident", "priority", "summary", "opened"],
          [[i["id"], i["priority"], i["summary"], i["opened_at"]]
           for i in review["sla_breaches"]["incidents"]]), None),
        ("Noisiest alerts", (["alert name", "incidents", "flaps (reopened)"],
                             [[a["alertname"] or "(declared by hand)", a["incidents"],
                               a["flaps"]] for a in review["noisiest"]]), None),
        (f"Pages: {review['pages']['total']}, failures: {review['pages']['failures']}",
         (["channel", "pages", "failures", "states"],
          [[c["channel"], c["total"], c["failures"],
            ", ".join(f"{s} {n}" for s, n in c["states"].items())] for c in pages]),
         ("Pages per channel", [c["channel"] for c in pages],
          {"sent": [c["total"] - c["failures"] for c in pages],
           "failed": [c["failures"] for c in pages]}, "")),
        (f"Action items: {items['open']} open, {items['overdue']} overdue",
         (["item", "incident", "owner", "due", "overdue"],
          [[i["title"], i["incident_id"], i["owner"], i["due"], "yes" if i["overdue"] else ""]
           for i in items["items"]]), None),
        ("Drills (not counted above)",
         (["incident", "priority", "summary", "opened", "alert → page", "page → ack",
           "acknowledged by"],
          [[d["id"], d["priority"], d["summary"], d["opened_at"], *_drill_result(d["result"])]
           for d in review["drills"]]), None),
        ("Drills' open action items (not counted above)",
         (["item", "incident", "owner", "due"],
          [[i["title"], i["incident_id"], i["owner"], i["due"]] for i in items["drills"]]),
         None),
    ]


def _drill_result(result: dict[str, Any] | None) -> list[str]:
    """A drill's recorded figures as three cells; blanks when none was recorded."""
    if not result:
        return ["", "", ""]
    return [human(result["alert_to_page_seconds"]) or "0s",
            human(result["page_to_ack_seconds"]) or "0s",
            result["acked_by"]]


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "/").replace("\n", " ")


def markdown(review: dict[str, Any]) -> str:
    """The review as Markdown: a table per section, charts as text bars in code blocks."""
    out = [f"# Monthly review {review['month']}", "",
           f"{review['from']} to {review['to']} (UTC), generated {review['generated_at']}. "
           f"{review['incidents']['total']} incidents, drills excluded.", ""]
    for heading, (header, rows), chart in sections(review):
        out += [f"## {heading}", ""]
        if rows:
            out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
        else:
            out.append("None.")
        if chart is not None and rows:
            _title, categories, series, unit = chart
            out += ["", "```", *charts.text_bars(categories, series, unit), "```"]
        out.append("")
    return "\n".join(out)


STYLE = ("body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
         "padding:3px 8px;text-align:left}th{background:#f3f3f3}")


def html(review: dict[str, Any]) -> str:
    """The review as one HTML page, charts as inline SVG; every value escaped."""
    title = f"Monthly review {escape(review['month'])}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{title}</title><style>{STYLE}</style></head><body>", f"<h1>{title}</h1>",
           f"<p>{escape(review['from'])} to {escape(review['to'])} (UTC), generated "
           f"{escape(review['generated_at'])}. {review['incidents']['total']} incidents, "
           "drills excluded.</p>"]
    for heading, (header, rows), chart in sections(review):
        out.append(f"<h2>{escape(heading)}</h2>")
        if chart is not None and rows:
            out.append(charts.svg_bars(*chart))
        if not rows:
            out.append("<p>None.</p>")
            continue
        out.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                for row in rows]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
