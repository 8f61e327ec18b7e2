"""The incident console over HTTP, as a browser with JavaScript off sees it (plain GETs and
form POSTs through the aiohttp test client): signing in and its cookie, the CSRF check, every
page, the notes API, and the colours' contrast. tests/receiver/test_console_browser.py drives
the same console in a real Chromium."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from multidict import CIMultiDictProxy

from receiver.http.common import RECEIVER
from receiver.http.ui import charts
from receiver.http.ui import session as sessions
from tests.receiver.conftest import TOKEN, auth
from tests.receiver.test_actions import open_incident

CSS = Path(__file__).resolve().parents[2] / "receiver/http/ui/static/console.css"
NAME = "Ada Lovelace"


async def console(make_client, **kwargs):
    """An anonymous client (no bearer token: a browser) of a receiver."""
    return await make_client(anonymous=True, **kwargs)


async def sign_in(client, token: str = TOKEN, name: str = NAME, allow_redirects=False):
    return await client.post("/ui/login", data={"token": token, "name": name, "next": "/ui/"},
                             allow_redirects=allow_redirects)


async def detail(client, incident_id: str) -> dict:
    """``GET /incidents/{id}`` with the API's token (the console's client sends none)."""
    return await (await client.get(f"/incidents/{incident_id}", headers=auth())).json()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def set_cookie(headers: CIMultiDictProxy) -> str:
    return next(v for v in headers.getall("Set-Cookie") if v.startswith(sessions.COOKIE))


# -- signing in ------------------------------------------------------------------------------
async def test_the_sign_in_form_has_a_token_password_field_and_a_sign_in_button(make_client):
    client = await console(make_client)
    response = await client.get("/ui/login")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert re.search(r'<label for="token">Token</label>\s*<input id="token" name="token" '
                     r'type="password"', page)
    assert re.search(r'<button type="submit"[^>]*>Sign in</button>', page)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_signing_in_sets_a_signed_http_only_strict_cookie_without_the_token(
        make_client, caplog):
    client = await console(make_client)
    with caplog.at_level(logging.DEBUG):
        response = await sign_in(client)
    assert response.status == 303 and response.headers["Location"] == "/ui/"
    cookie = set_cookie(response.headers)
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "SameSite=Strict" in cookie and "Path=/ui/" in cookie
    assert "secure" not in flags  # CALLWATCH_PUBLIC_URL is not https here
    assert TOKEN not in cookie and TOKEN not in caplog.text
    listing = await client.get("/ui/")
    assert listing.status == 200 and NAME in await listing.text()


async def test_the_cookie_is_secure_when_the_public_url_is_https(make_client):
    client = await console(make_client, env={"CALLWATCH_PUBLIC_URL": "https://cw.example"})
    cookie = set_cookie((await sign_in(client)).headers)
    assert "Secure" in cookie.split("; ")


async def test_a_wrong_token_is_the_form_again_with_401_and_no_cookie(make_client, caplog):
    client = await console(make_client)
    with caplog.at_level(logging.DEBUG):
        response = await sign_in(client, token="not-the-token")
    page = await response.text()
    assert response.status == 401
    assert "That is not the receiver token." in page and 'type="password"' in page
    assert "Set-Cookie" not in response.headers and "not-the-token" not in caplog.text
    assert (await client.get("/ui/", allow_redirects=False)).status == 303


async def test_without_a_token_configured_nobody_signs_in(make_client):
    client = await console(make_client, env={"CALLWATCH_RECEIVER_TOKEN": "",
                                             "CALLWATCH_RECEIVER_AUTH": "none"})
    response = await sign_in(client, token="anything")
    assert response.status == 401 and "CALLWATCH_RECEIVER_TOKEN" in await response.text()


async def test_pages_without_a_session_send_the_browser_to_sign_in(make_client):
    client = await console(make_client)
    response = await client.get("/ui/trends?weeks=4", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/ui/login?next=/ui/trends%3Fweeks%3D4"
    post = await client.post("/ui/incidents/x/ack", data={}, allow_redirects=False)
    assert (post.status, post.headers["Location"]) == (303, "/ui/login")
    # the API's bearer token is no console session
    assert (await client.get("/ui/", headers=auth(), allow_redirects=False)).status == 303


async def test_a_tampered_or_expired_session_is_no_session(make_client, clock):
    client = await console(make_client)
    value = set_cookie((await sign_in(client)).headers).split(";")[0].split("=", 1)[1]
    payload, signature = value.split(".")
    forged = sessions._b64(b'["someone",9999999999,"Mallory"]') + "." + signature
    jar = client.session.cookie_jar
    for bad in (forged, payload + ".", "garbage"):
        jar.clear()
        jar.update_cookies({sessions.COOKIE: bad})
        assert (await client.get("/ui/", allow_redirects=False)).status == 303, bad
    jar.clear()
    jar.update_cookies({sessions.COOKIE: value})
    assert (await client.get("/ui/", allow_redirects=False)).status == 200
    clock.advance(sessions.SESSION_SECONDS + 1)
    assert (await client.get("/ui/", allow_redirects=False)).status == 303


async def test_signing_out_forgets_the_session(make_client):
    client = await console(make_client)
    await sign_in(client)
    page = await (await client.get("/ui/")).text()
    response = await client.post("/ui/logout", data={"csrf": csrf_of(page)},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/ui/login"
    assert (await client.get("/ui/", allow_redirects=False)).status == 303


# -- CSRF ----------------------------------------------------------------------------------
async def test_a_form_without_the_sessions_csrf_token_is_403_and_changes_nothing(make_client):
    client = await console(make_client)
    incident = await open_incident(client)
    await sign_in(client)
    other = await console(make_client)
    await sign_in(other, name="Mallory")
    foreign = csrf_of(await (await other.get("/ui/")).text())  # a real token, another session
    for action in ("ack", "resolve", "escalate", "notes"):
        for form in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": foreign}):
            response = await client.post(f"/ui/incidents/{incident}/{action}",
                                         data={**form, "text": "x"}, allow_redirects=False)
            assert response.status == 403, (action, form)
            assert "nothing was changed" in await response.text()
    found = await detail(client, incident)
    assert found["state"] == "triggered"
    assert not [e for e in found["timeline"]
                if e["kind"] in ("acknowledged", "resolved", "escalation_requested", "note")]
    logout = await client.post("/ui/logout", data={}, allow_redirects=False)
    assert logout.status == 403


# -- the pages, JavaScript off -----------------------------------------------------------------
async def signed_in_with_incident(make_client):
    client = await console(make_client)
    incident = await open_incident(client)   # P0 TelephonyServiceDown on twilio
    await sign_in(client)
    return client, incident


async def test_the_list_shows_the_open_incident_and_its_rows_fragment(make_client):
    client, incident = await signed_in_with_incident(make_client)
    page = await (await client.get("/ui/")).text()
    row = re.search(r'<tr class="triggered">.*?</tr>', page, re.S).group(0)
    assert '<span class="badge p0">P0</span>' in row
    assert f'href="/ui/incidents/{incident}">TelephonyServiceDown on twilio</a>' in row
    assert "<td>twilio</td>" in row and '<span class="state triggered">' in row
    assert re.search(r"paging \w+ \w+ \(on call for primary\)", row), row
    assert 'data-refresh="/ui/fragments/incidents?"' in page
    fragment = await client.get("/ui/fragments/incidents")
    body = await fragment.text()
    assert fragment.status == 200 and body.lstrip().startswith('<tbody id="incident-rows">')
    assert incident in body and "<html" not in body


async def test_the_list_filters_by_priority_state_and_provider(make_client):
    client, incident = await signed_in_with_incident(make_client)
    for query, shown in (("priority=P0", True), ("priority=P3", False),
                         ("state=triggered", True), ("state=resolved", False),
                         ("provider=twilio", True), ("provider=telnyx", False)):
        page = await (await client.get(f"/ui/?{query}")).text()
        assert (incident in page) is shown, query
        assert f'data-refresh="/ui/fragments/incidents?{query}"' in page
    for path in ("/ui/?priority=P9", "/ui/fragments/incidents?priority=P9"):
        bad = await client.get(path)
        assert bad.status == 400 and "priority must be one of" in await bad.text(), path


async def test_the_incident_page_shows_alerts_pages_timeline_sla_drafts_and_report(
        make_client):
    client, incident = await signed_in_with_incident(make_client)
    response = await client.get(f"/ui/incidents/{incident}")
    page = await response.text()
    assert response.status == 200
    assert "6.2% of answered calls dropped" in page                        # the alert's value
    assert 'href="https://runbooks.example/high-call-drop-rate.md"' in page
    assert re.search(r'id="sla"[^>]*data-open="1">15m left to acknowledge<', page)
    for button in ("Acknowledge", "Escalate now", "Resolve", "Add note"):
        assert re.search(rf">{button}</button>", page), button
    assert page.count('name="csrf"') == 5                      # four actions and signing out
    assert re.search(r"Opened at P0 by alertmanager; paged \w+ \w+ \(on call for primary\)",
                     page)
    assert re.search(r"<td>pagerduty</td><td>trigger</td>", page)
    for draft in ("internal", "customer", "vendor"):
        assert f'id="draft-{draft}"' in page
        assert f'data-copy="draft-{draft}" hidden>Copy</button>' in page
    assert '<pre class="report">' in page and "Post" in page
    assert (await client.get("/ui/incidents/nope")).status == 404


async def test_the_buttons_act_through_the_services_as_the_signed_in_person(make_client):
    client, incident = await signed_in_with_incident(make_client)
    csrf = csrf_of(await (await client.get(f"/ui/incidents/{incident}")).text())

    async def press(action: str, **form: str) -> str:
        response = await client.post(f"/ui/incidents/{incident}/{action}",
                                     data={"csrf": csrf, **form}, allow_redirects=False)
        assert response.status == 303, await response.text()
        return response.headers["Location"]

    assert await press("escalate") == f"/ui/incidents/{incident}?done=escalated"
    assert await press("notes", text="  twilio status page says degraded  ") \
        == f"/ui/incidents/{incident}?done=noted"
    assert await press("ack") == f"/ui/incidents/{incident}?done=acknowledged"
    assert await press("ack") == f"/ui/incidents/{incident}?done=conflict"
    found = await detail(client, incident)
    assert (found["state"], found["acked_by"]) == ("acknowledged", NAME)
    kinds = {e["kind"]: e for e in found["timeline"]}
    assert kinds["escalation_requested"]["detail"]["via"] == "console"
    assert kinds["note"]["actor"] == NAME
    assert kinds["note"]["detail"] == {"text": "twilio status page says degraded",
                                       "via": "console"}
    page = await (await client.get(f"/ui/incidents/{incident}?done=acknowledged")).text()
    assert "You acknowledged the incident" in page
    assert f"Note by {NAME}: twilio status page says degraded" in page
    assert f"{NAME} acknowledged (in the console)" in page
    assert ">Acknowledge</button>" not in page and ">Resolve</button>" in page
    empty = await client.post(f"/ui/incidents/{incident}/notes", data={"csrf": csrf,
                                                                       "text": "  "})
    assert empty.status == 400


async def test_on_call_and_trends_pages_render(make_client):
    client, _ = await signed_in_with_incident(make_client)
    oncall = await (await client.get("/ui/oncall")).text()
    assert re.search(r"<td>primary <span", oncall) and "Next handoff" in oncall
    trends = await client.get("/ui/trends?weeks=4")
    page = await trends.text()
    assert trends.status == 200 and page.count('<svg class="chart"') == 3
    assert "TelephonyServiceDown" in page
    assert (await client.get("/ui/trends?weeks=0")).status == 400


async def test_a_store_that_does_not_answer_is_a_503_page_not_a_traceback(make_client):
    client, incident = await signed_in_with_incident(make_client)
    state = client.app[RECEIVER]
    store, state.store = state.store, None       # as between shutdown and the next start-up
    try:
        for path in ("/ui/", f"/ui/incidents/{incident}", "/ui/trends"):
            response = await client.get(path)
            assert response.status == 503 and response.content_type == "text/html", path
            assert "The incident store is not answering" in await response.text()
    finally:
        state.store = store


async def test_the_static_files_and_nothing_else(make_client):
    client = await console(make_client)
    css = await client.get("/ui/static/console.css")
    assert css.status == 200 and css.content_type == "text/css"
    js = await client.get("/ui/static/console.js")
    assert js.status == 200 and js.content_type == "text/javascript"
    assert (await client.get("/ui/static/..%2Fsession.py")).status == 404


# -- notes over the JSON API -----------------------------------------------------------------
async def test_notes_over_the_json_api(make_client):
    client = await make_client()
    incident = await open_incident(client)
    response = await client.post(f"/incidents/{incident}/notes",
                                 json={"by": "Grace", "text": "rolled back the deploy"})
    body = await response.json()
    assert response.status == 201
    assert (body["incident"], body["kind"], body["actor"]) == (incident, "note", "Grace")
    assert body["detail"] == {"text": "rolled back the deploy", "via": "api"}
    for sent, field in (({"by": "Grace"}, "text"), ({"text": "x"}, "by"),
                        ({"by": "Grace", "text": "x" * 5001}, "text")):
        refused = await client.post(f"/incidents/{incident}/notes", json=sent)
        assert (refused.status, (await refused.json())["field"]) == (400, field)
    missing = await client.post("/incidents/nope/notes", json={"by": "G", "text": "x"})
    assert missing.status == 404
    wrong = await client.post(f"/incidents/{incident}/notes", json={"by": "G", "text": "x"},
                              headers={"Authorization": "Bearer wrong"})
    assert wrong.status == 401
    notes = [e for e in (await detail(client, incident))["timeline"] if e["kind"] == "note"]
    assert [n["detail"]["text"] for n in notes] == ["rolled back the deploy"]


# -- colours ---------------------------------------------------------------------------------
def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_on_known_pairs():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def _css() -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """The stylesheet's variables and its rules (selector, declarations), comments removed."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", text):
        declarations = {
            name.strip(): value.strip() for name, value in
            (part.split(":", 1) for part in body.split(";") if ":" in part)}
        rules.append((selector.strip(), declarations))
    variables = {k: v for s, d in rules if s == ":root" for k, v in d.items()}
    return variables, rules


def _resolve(value: str, variables: dict[str, str]) -> str:
    found = re.fullmatch(r"var\((--[\w-]+)\)", value)
    return variables[found.group(1)] if found else value


def test_every_text_colour_meets_wcag_aa_against_its_background():
    variables, rules = _css()
    page = variables["--page-bg"]
    checked = []
    for selector, declarations in rules:
        if "color" not in declarations:
            continue
        fg = _resolve(declarations["color"], variables)
        bg = _resolve(declarations.get("background", declarations.get("background-color",
                                                                       page)), variables)
        ratio = contrast(fg, bg)
        checked.append((selector, round(ratio, 2)))
        assert ratio >= 4.5, f"{selector}: {fg} on {bg} is {ratio:.2f}:1, below 4.5:1"
    # chart text sits on the page; lines and bars are graphics: 3:1 (WCAG 1.4.11)
    axis = _resolve(dict(rules)[".chart .axis"]["fill"], variables)
    assert contrast(axis, page) >= 4.5
    for name in ("--series-p0", "--series-p1", "--series-p2", "--series-p3", "--bar"):
        assert contrast(variables[name], page) >= 3.0, name
    badges = {s for s, _ in checked if s.startswith(".badge.p")}
    assert badges == {".badge.p0", ".badge.p1", ".badge.p2", ".badge.p3"}
    assert len(checked) >= 20


def test_chart_scales_and_marks():
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 7, 12, 4999)] == [1, 0.5, 1, 10, 20,
                                                                         5000]
    svg = charts.lines("t", ["a", "b", "c"], {"P0": [1.0, None, 3.0]}, "minutes")
    assert "<polyline" not in svg and svg.count("<circle") == 2   # a gap breaks the line
    svg = charts.bars("t", [("<script>", 3)])
    assert "&lt;script&gt;" in svg and "<script>" not in svg
