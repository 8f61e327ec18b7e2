"""The real slack_sdk AsyncWebClient against the Slack stand-in."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient


@pytest.fixture
def client(server, state):
    return AsyncWebClient(token=state.slack_token, base_url=str(server.make_url("/api/")))


async def test_a_message_and_its_thread_reply_are_recorded(client, slack_state, recorder):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*P1* drop rate"}}]
    first = await client.chat_postMessage(channel="#incidents", text="P1 drop rate", blocks=blocks)
    assert first["ok"] is True and first["channel"].startswith("C")
    reply = await client.chat_postMessage(channel=first["channel"], text="resolved",
                                          thread_ts=first["ts"])
    assert reply["message"]["thread_ts"] == first["ts"]
    assert [m["text"] for m in slack_state.thread(first["channel"], first["ts"])] == ["resolved"]
    assert slack_state.messages[0]["blocks"] == blocks
    posted = recorder.requests("slack")[0]
    assert posted.json["channel"] == "#incidents" and "Authorization" not in posted.headers


async def test_chat_update_edits_the_message_in_place(client, slack_state):
    first = await client.chat_postMessage(channel="#incidents", text="firing")
    await client.chat_update(channel=first["channel"], ts=first["ts"], text="acknowledged")
    message = slack_state.messages[0]
    assert message["text"] == "acknowledged" and message["edits"][0]["text"] == "firing"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel=first["channel"], ts="1.000009", text="x")
    assert caught.value.response["error"] == "message_not_found"


async def test_form_encoded_posts_with_a_token_field_work(server, state, slack_state):
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/api/chat.postMessage"), data={
                "token": state.slack_token, "channel": "#incidents", "text": "form"}) as resp:
            body = await resp.json()
    assert body["ok"] is True and slack_state.messages[0]["text"] == "form"


@pytest.mark.parametrize("token, error", [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
async def test_bad_or_missing_tokens_are_ok_false(server, token, error):
    client = AsyncWebClient(token=token, base_url=str(server.make_url("/api/")))
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#incidents", text="x")
    assert caught.value.response["error"] == error


async def test_an_unknown_channel_is_channel_not_found(client, slack_state):
    slack_state.known_channels = {"#incidents"}
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#nowhere", text="x")
    assert caught.value.response["error"] == "channel_not_found"


async def test_a_queued_error_is_answered_once(client, slack_state):
    slack_state.errors.append("is_archived")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#incidents", text="x")
    assert caught.value.response["error"] == "is_archived"
    assert (await client.chat_postMessage(channel="#incidents", text="x"))["ok"] is True


async def test_an_injected_429_carries_retry_after_and_the_retry_handler_gets_through(
        server, state, faults, slack_state):
    faults.fail("slack", 429, count=1)
    bare = AsyncWebClient(token=state.slack_token, base_url=str(server.make_url("/api/")))
    with pytest.raises(SlackApiError) as caught:
        await bare.chat_postMessage(channel="#incidents", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    faults.fail("slack", 429, count=1)
    patient = AsyncWebClient(token=state.slack_token, base_url=str(server.make_url("/api/")),
                             retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    assert (await patient.chat_postMessage(channel="#incidents", text="y"))["ok"] is True
    assert [m["text"] for m in slack_state.messages] == ["y"]


async def test_an_injected_503_is_a_slack_api_error_with_that_status(client, faults):
    faults.fail("slack", 503, count=1)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#incidents", text="x")
    assert caught.value.response.status_code == 503


PAGE = {"event_type": "callwatch_page", "event_payload": {"page": "row-1"}}


async def test_history_is_newest_first_and_shows_metadata_only_when_asked(client, clock):
    first = await client.chat_postMessage(channel="#incidents", text="one", metadata=PAGE)
    channel = first["channel"]
    clock.advance(10)
    second = await client.chat_postMessage(channel=channel, text="two")
    await client.chat_postMessage(channel=channel, text="in thread", thread_ts=first["ts"])
    assert float(second["ts"]) == pytest.approx(clock.now)         # the post time
    plain = await client.conversations_history(channel=channel)
    assert [m["text"] for m in plain["messages"]] == ["two", "one"]   # no thread replies
    assert plain["has_more"] is False and "metadata" not in plain["messages"][1]
    assert plain["messages"][1]["reply_count"] == 1
    full = await client.conversations_history(channel=channel, include_all_metadata=True)
    assert full["messages"][1]["metadata"] == PAGE and "metadata" not in full["messages"][0]
    recent = await client.conversations_history(channel=channel, oldest=str(clock.now - 5))
    assert [m["text"] for m in recent["messages"]] == ["two"]
    with pytest.raises(SlackApiError) as caught:                    # reads take an id
        await client.conversations_history(channel="#incidents")
    assert caught.value.response["error"] == "channel_not_found"


async def test_history_pages_with_a_cursor(client, clock):
    channel = (await client.chat_postMessage(channel="#incidents", text="m0"))["channel"]
    for n in range(1, 5):
        clock.advance(1)
        await client.chat_postMessage(channel=channel, text=f"m{n}")
    seen, cursor = [], None
    for _ in range(5):
        page = await client.conversations_history(channel=channel, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        if not page["has_more"]:
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert seen == ["m4", "m3", "m2", "m1", "m0"]


async def test_replies_are_the_parent_then_its_replies_with_metadata_when_asked(client, clock):
    parent = await client.chat_postMessage(channel="#incidents", text="page")
    channel = parent["channel"]
    for text in ("ack", "resolved"):
        clock.advance(1)
        await client.chat_postMessage(channel=channel, text=text, thread_ts=parent["ts"],
                                      metadata={**PAGE, "event_payload": {"page": text}})
    thread = await client.conversations_replies(channel=channel, ts=parent["ts"],
                                                include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["page", "ack", "resolved"]
    assert thread["messages"][2]["metadata"]["event_payload"] == {"page": "resolved"}
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_replies(channel=channel, ts="1.000001")
    assert caught.value.response["error"] == "thread_not_found"


async def test_metadata_without_its_event_type_is_refused(client):
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#incidents", text="x",
                                      metadata={"event_payload": {"page": "p"}})
    assert caught.value.response["error"] == "invalid_metadata_format"


async def test_held_answers_post_the_message_and_answer_only_when_released(client, slack_state):
    slack_state.hold_answers()
    posting = asyncio.create_task(client.chat_postMessage(channel="#incidents", text="held"))
    for _ in range(100):
        if slack_state.messages:
            break
        await asyncio.sleep(0.01)
    assert [m["text"] for m in slack_state.messages] == ["held"] and not posting.done()
    slack_state.release_answers()
    assert (await posting)["ts"] == slack_state.messages[0]["ts"]
