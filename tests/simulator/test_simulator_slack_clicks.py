"""Slack button clicks over the wire: the real slack_sdk posts and updates messages, the
simulated Slack clicks their buttons, and a tiny app (``ClickApp``) verifies every click with
slack_sdk's own ``SignatureVerifier``, as callwatch's receiver must."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from simulator import Simulator
from simulator.slack_clicks import NoSuchButton

ACK = "callwatch_ack"


def buttons_block(*buttons: tuple[str, str | None], block_id: str | None = None) -> dict:
    """An ``actions`` block of buttons given as (action_id, value)."""
    elements = []
    for action_id, value in buttons:
        button = {"type": "button", "action_id": action_id,
                  "text": {"type": "plain_text", "text": action_id.title()}}
        if value is not None:
            button["value"] = value
        elements.append(button)
    block = {"type": "actions", "elements": elements}
    if block_id:
        block["block_id"] = block_id
    return block


def page_blocks(incident: str) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{incident}* firing"}},
            buttons_block((ACK, incident), ("callwatch_resolve", incident), block_id="page")]


class ClickApp:
    """The app's Request URL (``/slack/interactions``): 401 unless slack_sdk's verifier accepts
    the signature; otherwise keeps the headers and payload and answers ``answer``. With
    ``respond``, it first posts that JSON to the click's ``response_url``."""

    def __init__(self, secret: str, clock: Clock | None = None) -> None:
        self.verifier = SignatureVerifier(secret, clock=clock or Clock())
        self.payloads: list[dict] = []
        self.headers: list[dict] = []
        self.bodies: list[str] = []
        self.refused = 0
        self.respond: dict | None = None
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/interactions", self.interactions)
        return app

    @property
    def url(self) -> str:
        return self.base + "/slack/interactions"

    async def interactions(self, request: web.Request) -> web.Response:
        body = await request.text()
        if not self.verifier.is_valid(body, request.headers.get("X-Slack-Request-Timestamp"),
                                      request.headers.get("X-Slack-Signature")):
            self.refused += 1
            return web.Response(status=401, text="bad signature")
        payload = json.loads(parse_qs(body)["payload"][0])
        self.payloads.append(payload)
        self.headers.append(dict(request.headers))
        self.bodies.append(body)
        if self.respond is not None:
            async with aiohttp.ClientSession() as session, session.post(
                    payload["response_url"], json=self.respond) as answer:
                assert (answer.status, await answer.text()) == (200, "ok")
        return web.Response(text="clicked")


@pytest.fixture
async def sim():
    async with Simulator(traffic=False) as running:
        yield running


@pytest.fixture
async def app(sim, aiohttp_server):
    click_app = ClickApp(sim.env()["SLACK_SIGNING_SECRET"])
    server = await aiohttp_server(click_app.app())
    click_app.base = str(server.make_url("")).rstrip("/")
    return click_app


@pytest.fixture
async def slack(sim):
    env = sim.env()
    return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_BASE_URL"])


async def test_a_click_arrives_signed_with_the_fields_slack_sends(sim, app, slack):
    posted = await slack.chat_postMessage(channel="#incidents", text="inc-1 firing",
                                          blocks=page_blocks("inc-1"))
    status, body = await sim.slack_click(ACK, url=app.url, user_id="U042", user_name="ana")
    assert (status, body) == (200, "clicked")
    [payload], [headers] = app.payloads, app.headers
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    assert payload["type"] == "block_actions" and payload["api_app_id"] == "A0SIM"
    assert payload["user"] == {"id": "U042", "username": "ana", "name": "ana",
                               "team_id": "T0SIM"}
    assert payload["team"] == {"id": "T0SIM", "domain": "sim"}
    assert payload["container"] == {"type": "message", "message_ts": posted["ts"],
                                    "channel_id": posted["channel"], "is_ephemeral": False}
    assert payload["channel"] == {"id": posted["channel"], "name": "incidents"}
    assert payload["message"] == {"type": "message", "ts": posted["ts"], "text": "inc-1 firing",
                                  "blocks": page_blocks("inc-1"), "bot_id": "BSIM0001"}
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "type", "text")} == {
        "action_id": ACK, "block_id": "page", "value": "inc-1", "type": "button",
        "text": {"type": "plain_text", "text": "Callwatch_Ack"}}
    assert float(action["action_ts"]) == pytest.approx(time.time(), abs=5)
    assert payload["response_url"].startswith(f"{sim.url}/slack/response/")
    [click] = sim.slack_clicks()
    assert (click.status, click.body, click.trigger_id) == (200, "clicked",
                                                            payload["trigger_id"])


FIXED_NOW = 1_795_000_000.5


class FixedClock(Clock):
    """slack_sdk's clock, stopped where the simulator's is."""

    def now(self) -> float:
        return FIXED_NOW


async def test_the_click_is_stamped_with_the_simulators_clock(aiohttp_server):
    async with Simulator(traffic=False, clock=lambda: FIXED_NOW) as sim:
        click_app = ClickApp(sim.slack_signing_secret, clock=FixedClock())
        server = await aiohttp_server(click_app.app())
        click_app.base = str(server.make_url("")).rstrip("/")
        env = sim.env()
        slack = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_BASE_URL"])
        await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("i"))
        assert (await sim.slack_click(ACK, url=click_app.url))[0] == 200
    [headers], [payload] = click_app.headers, click_app.payloads
    assert headers["X-Slack-Request-Timestamp"] == "1795000000"
    assert payload["actions"][0]["action_ts"] == "1795000000.500000"


async def test_every_click_has_its_own_trigger_id_and_response_url(sim, app, slack):
    await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("inc-1"))
    await sim.slack_click(ACK, url=app.url)
    await sim.slack_click(ACK, url=app.url)
    first, second = app.payloads
    assert first["trigger_id"] != second["trigger_id"]
    assert first["response_url"] != second["response_url"]


@pytest.mark.parametrize("timestamp_offset, secret", [
    pytest.param(-600, None, id="a click stamped ten minutes ago fails the app's verification"),
    pytest.param(600, None, id="a click stamped ten minutes ahead fails the app's verification"),
    pytest.param(0, "not-the-signing-secret",
                 id="a click signed with another secret fails the app's verification"),
])
async def test_stale_or_forged_clicks_are_refused_by_the_verifier(
        sim, app, slack, timestamp_offset, secret):
    await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("inc-1"))
    status, _ = await sim.slack_click(ACK, url=app.url, secret=secret,
                                      timestamp=int(time.time()) + timestamp_offset)
    assert status == 401 and app.refused == 1 and app.payloads == []
    assert sim.slack_clicks()[0].status == 401


async def test_the_signature_is_the_one_slack_sdk_computes_over_the_exact_body(
        sim, app, slack):
    await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("inc-1"))
    await sim.slack_click(ACK, url=app.url)
    [headers], [body] = app.headers, app.bodies
    expected = SignatureVerifier(sim.slack_signing_secret).generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=body)
    assert headers["X-Slack-Signature"] == expected and expected.startswith("v0=")
    assert parse_qs(body).keys() == {"payload"}


async def test_the_response_url_keeps_what_the_app_posts_to_it(sim, app, slack):
    posted = await slack.chat_postMessage(channel="#incidents", text="x",
                                          blocks=page_blocks("inc-1"))
    app.respond = {"replace_original": True, "text": "Acknowledged by ana"}
    assert (await sim.slack_click(ACK, url=app.url))[0] == 200
    [response] = sim.slack_responses()
    assert response.body == {"replace_original": True, "text": "Acknowledged by ana"}
    assert (response.action_id, response.message_ts, response.channel) == (
        ACK, posted["ts"], posted["channel"])
    assert app.payloads[0]["response_url"].endswith("/" + response.id)


async def test_the_response_url_refuses_a_body_that_is_not_json(sim):
    async with aiohttp.ClientSession() as session, session.post(
            f"{sim.url}/slack/response/abc", data="text=hi") as answer:
        assert (answer.status, await answer.text()) == (400, "invalid_payload")
    assert sim.slack_responses() == []


async def test_chat_update_replaces_the_stored_message_and_its_buttons(sim, app, slack):
    posted = await slack.chat_postMessage(channel="#incidents", text="inc-1 firing",
                                          blocks=page_blocks("inc-1"))
    await sim.slack_click(ACK, url=app.url)
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "acknowledged by ana"}}]
    await slack.chat_update(channel=posted["channel"], ts=posted["ts"], text="acked",
                            blocks=done)
    [message] = sim.notifications()["slack"]
    assert (message["text"], message["blocks"]) == ("acked", done)
    assert message["edits"] == [{"text": "inc-1 firing", "blocks": page_blocks("inc-1")}]
    with pytest.raises(NoSuchButton, match="no posted message has a button"):
        await sim.slack_click(ACK, url=app.url)


async def test_the_most_recent_message_with_the_button_is_clicked_unless_ts_says(
        sim, app, slack):
    first = await slack.chat_postMessage(channel="#incidents", text="1",
                                         blocks=page_blocks("inc-1"))
    await slack.chat_postMessage(channel="#incidents", text="2", blocks=page_blocks("inc-2"))
    await slack.chat_postMessage(channel="#other", text="no buttons")
    await sim.slack_click(ACK, url=app.url)
    await sim.slack_click(ACK, url=app.url, ts=first["ts"], channel="#incidents")
    await sim.slack_click(ACK, url=app.url, ts=first["ts"], value="chosen")
    assert [p["actions"][0]["value"] for p in app.payloads] == ["inc-2", "inc-1", "chosen"]
    assert app.payloads[1]["container"]["message_ts"] == first["ts"]


async def test_a_thread_reply_and_a_section_accessory_button_can_be_clicked(sim, app, slack):
    top = await slack.chat_postMessage(channel="#ops", text="top")
    accessory = {"type": "section", "text": {"type": "mrkdwn", "text": "escalate?"},
                 "accessory": {"type": "button", "action_id": "callwatch_escalate",
                               "text": {"type": "plain_text", "text": "Escalate"}}}
    await slack.chat_postMessage(channel=top["channel"], thread_ts=top["ts"], text="reply",
                                 blocks=[accessory])
    await sim.slack_click("callwatch_escalate", url=app.url)
    [payload] = app.payloads
    assert payload["message"]["thread_ts"] == top["ts"]
    assert payload["container"]["thread_ts"] == top["ts"]
    # The reply was posted by channel id; the payload still names the channel.
    assert payload["channel"] == {"id": top["channel"], "name": "ops"}
    [action] = payload["actions"]
    assert action["block_id"] == "sim-block-0" and "value" not in action


@pytest.mark.parametrize("action_id, where, message", [
    pytest.param("nope", {}, "no posted message has a button with action_id 'nope'",
                 id="a button no message has is refused naming the action_id"),
    pytest.param(ACK, {"ts": "1.000001"}, "no posted message has ts 1.000001",
                 id="a ts no message has is refused naming the ts"),
    pytest.param(ACK, {"channel": "#elsewhere"}, "no posted message in #elsewhere",
                 id="a channel without that button is refused naming the channel"),
    pytest.param("nope", {"ts": "{ts}"}, "has no button with action_id 'nope'",
                 id="a message without that button is refused naming the action_id"),
])
async def test_clicking_what_is_not_there_is_a_value_error(
        sim, app, slack, action_id, where, message):
    posted = await slack.chat_postMessage(channel="#incidents", text="x",
                                          blocks=page_blocks("inc-1"))
    where = {k: v.replace("{ts}", posted["ts"]) for k, v in where.items()}
    with pytest.raises(ValueError, match=message):
        await sim.slack_click(action_id, url=app.url, **where)
    assert app.payloads == [] and sim.slack_clicks() == []


async def test_the_click_control_endpoint_clicks_and_lists(sim, app, slack):
    posted = await slack.chat_postMessage(channel="#incidents", text="x",
                                          blocks=page_blocks("inc-1"))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.url}/control/slack/click", json={
                "url": app.url, "action_id": ACK, "user_name": "bo"}) as answer:
            assert answer.status == 200
            assert await answer.json() == {"status": 200, "body": "clicked"}
        async with session.get(f"{sim.url}/control/slack") as answer:
            listing = await answer.json()
        assert [c["message_ts"] for c in listing["clicks"]] == [posted["ts"]]
        assert listing["clicks"][0]["payload"]["user"]["name"] == "bo"
        assert listing["messages"][0]["ts"] == posted["ts"] and listing["responses"] == []
        await session.post(f"{sim.url}/control/reset")
        async with session.get(f"{sim.url}/control/slack") as answer:
            assert await answer.json() == {"messages": [], "clicks": [], "responses": []}


@pytest.mark.parametrize("body, error", [
    pytest.param({"action_id": ACK}, "missing_field", id="a click without url is refused"),
    pytest.param({"url": "http://127.0.0.1:9/x"}, "missing_field",
                 id="a click without action_id is refused"),
    pytest.param({"url": "http://127.0.0.1:9/x", "action_id": ACK, "ts": 5}, "invalid_field",
                 id="a click whose ts is not a string is refused"),
    pytest.param({"url": "http://127.0.0.1:9/x", "action_id": "nope"}, "no_such_message",
                 id="a click on a button no message has is refused"),
])
async def test_the_click_control_endpoint_refuses_bad_input_with_400_json(
        sim, slack, body, error):
    await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("inc-1"))
    async with aiohttp.ClientSession() as session, session.post(
            f"{sim.url}/control/slack/click", json=body) as answer:
        assert answer.status == 400
        assert (await answer.json())["error"] == error


async def test_an_unreachable_app_is_502_on_the_control_endpoint(sim, slack, unused_tcp_port):
    await slack.chat_postMessage(channel="#incidents", text="x", blocks=page_blocks("inc-1"))
    async with aiohttp.ClientSession() as session, session.post(
            f"{sim.url}/control/slack/click",
            json={"url": f"http://127.0.0.1:{unused_tcp_port}/x", "action_id": ACK}) as answer:
        assert answer.status == 502 and (await answer.json())["error"] == "unreachable"
    [click] = sim.slack_clicks()
    assert click.status is None and click.error.startswith("unreachable")


async def test_the_signing_secret_is_in_the_environment_and_fresh_per_simulator(sim):
    assert sim.env()["SLACK_SIGNING_SECRET"] == sim.slack_signing_secret
    async with Simulator(traffic=False) as other:
        assert other.slack_signing_secret != sim.slack_signing_secret
    async with Simulator(traffic=False, slack_signing_secret="s3cret") as chosen:
        assert chosen.env()["SLACK_SIGNING_SECRET"] == "s3cret"
