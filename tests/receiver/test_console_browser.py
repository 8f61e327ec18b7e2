"""The incident console in a real headless Chromium (Debian's ``chromium``, driven by
Playwright's Python API: ``executable_path`` points at it, no browser is downloaded).

One walk, as an on-call engineer at 3 a.m.: a wrong token is refused; signing in; the incident
that Alertmanager's real payload (fixtures/alertmanager-firing.json) opened is on the list; a
second alert appears on the list by itself, without the page reloading; the incident page
(SLA countdown ticking, copy buttons); Acknowledge, after which the JSON API says who
acknowledged; a forged form without the CSRF token is refused and changes nothing.
Screenshots of the list and the incident page go to ``$CALLWATCH_SCREENSHOTS_DIR`` (else the
test's temporary directory); the test prints where. A missing chromium fails the test.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect
from prometheus_client import CollectorRegistry

from callwatch.web import create_app
from receiver.app import setup_receiver
from tests.receiver.conftest import TOKEN, auth
from tests.receiver.standins import alert, payload

pytestmark = pytest.mark.binaries

FIXTURE = Path(__file__).resolve().parent / "fixtures/alertmanager-firing.json"
WHO = "Grace Hopper"
WAIT_MS = 10_000


@pytest.fixture
async def base_url(aiohttp_server, policy, receiver_env, recorders) -> str:
    """A receiver on a real socket, on the wall clock, with in-test notifiers."""
    app = create_app(policy, CollectorRegistry())
    setup_receiver(app, receiver_env, notifiers=recorders)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def page(chromium_bin):
    async with async_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: Chromium's sandbox refuses
        browser = await playwright.chromium.launch(executable_path=chromium_bin, args=args)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        yield await context.new_page()
        await browser.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    where = Path(os.environ.get("CALLWATCH_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


async def api(base_url: str, method: str, path: str, body=None) -> dict:
    async with aiohttp.ClientSession(headers=auth()) as session, \
            session.request(method, base_url + path, data=json.dumps(body)) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def test_sign_in_see_acknowledge_and_be_refused_a_forged_form(base_url, page, screenshots):
    incident = (await api(base_url, "POST", "/alerts", json.loads(FIXTURE.read_text())))[
        "incident"]

    await page.goto(f"{base_url}/ui/?refresh=1")                  # no session: sign in first
    await expect(page).to_have_url(f"{base_url}/ui/login?next=/ui/%3Frefresh%3D1")
    await page.get_by_label("Token").fill("not-the-token")
    async with page.expect_response(f"{base_url}/ui/login") as refused:
        await page.get_by_role("button", name="Sign in").click()
    assert (await refused.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("That is not the receiver token.")

    await page.get_by_label("Token").fill(TOKEN)
    await page.get_by_label("Your name").fill(WHO)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base_url}/ui/?refresh=1")
    row = page.locator("#incident-rows tr", has_text="TelephonyServiceDown on twilio")
    await expect(row.locator(".badge")).to_have_text("P0")
    await expect(row.locator(".state")).to_have_text("triggered")

    # a new alert appears without the page reloading: the marker set now survives
    await page.evaluate("window.stillTheSamePage = true")
    await api(base_url, "POST", "/alerts",
              payload(alert("TelephonyCallQualityLow", provider="telnyx"),
                      group="TelephonyCallQualityLow"))
    await expect(page.locator("#incident-rows tr", has_text="TelephonyCallQualityLow")
                 ).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage") is True
    await page.screenshot(path=screenshots / "incidents.png", full_page=True)

    await row.get_by_role("link").click()
    await expect(page).to_have_url(f"{base_url}/ui/incidents/{incident}")
    await expect(page.locator("#sla")).to_have_text(
        re.compile(r"^14m \d\ds left to acknowledge$"))   # the script ticks each second
    await expect(page.get_by_role("button", name="Copy").first).to_be_visible()
    await page.screenshot(path=screenshots / "incident.png", full_page=True)

    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_role("status")).to_contain_text("You acknowledged the incident")
    await expect(page.locator("#incident-state")).to_have_text("acknowledged")
    found = await api(base_url, "GET", f"/incidents/{incident}")
    assert (found["state"], found["acked_by"]) == ("acknowledged", WHO)
    await page.screenshot(path=screenshots / "incident-acknowledged.png", full_page=True)

    # a form posted without the session's CSRF token (same origin, same cookie) is refused
    other = (await api(base_url, "GET", "/incidents?alertname=TelephonyCallQualityLow"))[
        "incidents"][0]["id"]
    async with page.expect_response(f"{base_url}/ui/incidents/{other}/resolve") as forged:
        await page.evaluate("""(action) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            document.body.appendChild(form);
            form.submit();
        }""", f"/ui/incidents/{other}/resolve")
    assert (await forged.value).status == 403
    await expect(page.get_by_role("alert")).to_contain_text("nothing was changed")
    assert (await api(base_url, "GET", f"/incidents/{other}"))["state"] == "triggered"
    print(f"\nconsole screenshots: {screenshots}")
