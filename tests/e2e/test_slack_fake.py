"""The fake Slack itself, driven by the real slack_sdk AsyncWebClient and SocketModeClient:
wire formats, state, limits, fault injection and Socket Mode envelopes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_fake import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    SLACK_CHANNEL_LIMITS,
    SLACK_TIERS,
    TEAM_ID,
    FakeSlack,
    Fault,
    SocketDelivery,
)


@pytest.fixture
async def slack():
    async with FakeSlack(echo_bot_messages=False) as fake:
        fake.delivery = None  # no app here: events are recorded, not delivered
        fake.ws.add_user("U1", "ada", real_name="Ada Lovelace", title="Engineer")
        fake.ws.add_user("U2", "bob")
        fake.ws.add_channel("C1", "general", ["U1", "U2"])
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    c = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
    c.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return c


async def test_auth_and_bad_token(slack: FakeSlack, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert me["user_id"] == BOT_USER_ID and me["team_id"] == TEAM_ID
    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url)
    with pytest.raises(SlackApiError) as err:
        await bad.auth_test()
    assert err.value.response["error"] == "invalid_auth"


async def test_post_update_and_markdown_rules(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await slack.say("U1", "C1", "question")
    posted = await client.chat_postMessage(channel="C1", thread_ts=root.ts, markdown_text="*hi*")
    await client.chat_update(channel="C1", ts=posted["ts"], markdown_text="*hi there*")
    msg = slack.ws.message("C1", posted["ts"])
    assert msg is not None and msg.text == "*hi there*" and msg.thread_ts == root.ts
    assert msg.edits == 1
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=posted["ts"], markdown_text="x", text="x")
    assert err.value.response["error"] == "markdown_text_conflict"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", markdown_text="x" * 12_001)
    assert err.value.response["error"] == "msg_too_long"
    await client.chat_postMessage(channel="C1", markdown_text="x" * 12_000)
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=root.ts, text="not mine")
    assert err.value.response["error"] == "cant_update_message"
    assert [r.method for r in slack.requests].count("chat.update") == 3


async def test_stream_helper_and_states(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await slack.say("U1", "C1", "question")
    stream = await client.chat_stream(
        channel="C1",
        thread_ts=root.ts,
        recipient_team_id=TEAM_ID,
        recipient_user_id="U1",
        buffer_size=1,
    )
    await stream.append(markdown_text="Hello ")
    assert stream.ts is not None
    await stream.append(
        chunks=[TaskUpdateChunk(id="t1", title="Running `x`…", status="in_progress")]
    )
    await stream.append(markdown_text="world")
    await stream.stop(markdown_text="!")
    msg = slack.ws.message("C1", stream.ts)
    assert msg is not None and msg.text == "Hello world!" and msg.stream_state == "stopped"
    assert msg.tasks["t1"]["status"] == "in_progress"
    with pytest.raises(SlackApiError) as err:
        await client.chat_appendStream(channel="C1", ts=stream.ts, markdown_text="late")
    assert err.value.response["error"] == "message_not_in_streaming_state"
    # chunks and raw markdown_text are both accepted
    started = await client.chat_startStream(
        channel="C1",
        thread_ts=root.ts,
        recipient_team_id=TEAM_ID,
        recipient_user_id="U1",
        chunks=[MarkdownTextChunk(text="a")],
    )
    await client.chat_appendStream(channel="C1", ts=started["ts"], markdown_text="b")
    await client.chat_stopStream(channel="C1", ts=started["ts"])
    assert slack.ws.message("C1", started["ts"]).text == "ab"  # type: ignore[union-attr]


async def test_stream_requires_thread_and_recipient(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    root = await slack.say("U1", "C1", "question")
    with pytest.raises(SlackApiError) as err:
        await client.chat_startStream(channel="C1", thread_ts=root.ts, markdown_text="x")
    assert err.value.response["error"] == "missing_recipient_team_id"
    with pytest.raises(SlackApiError) as err:
        await client.api_call("chat.startStream", json={"channel": "C1", "markdown_text": "x"})
    assert err.value.response["error"] == "invalid_arguments"
    slack.methods.streaming_channel_types = {"im"}
    with pytest.raises(SlackApiError) as err:
        await client.chat_startStream(
            channel="C1",
            thread_ts=root.ts,
            recipient_team_id=TEAM_ID,
            recipient_user_id="U1",
            markdown_text="x",
        )
    assert err.value.response["error"] == "channel_type_not_supported"


async def test_injected_stream_expiry_ends_the_stream(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    root = await slack.say("U1", "C1", "question")
    slack.inject("chat.appendStream", Fault.error("message_not_in_streaming_state"), after=1)
    started = await client.chat_startStream(
        channel="C1",
        thread_ts=root.ts,
        recipient_team_id=TEAM_ID,
        recipient_user_id="U1",
        markdown_text="a",
    )
    await client.chat_appendStream(channel="C1", ts=started["ts"], markdown_text="b")
    with pytest.raises(SlackApiError):
        await client.chat_appendStream(channel="C1", ts=started["ts"], markdown_text="c")
    msg = slack.ws.message("C1", started["ts"])
    assert msg is not None and msg.text == "ab" and msg.stream_state == "expired"
    await client.chat_update(channel="C1", ts=started["ts"], markdown_text="abc")
    assert msg.text == "abc"


async def test_429_with_retry_after_is_retried(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="x")
    slack.inject("chat.update", Fault.rate_limited(retry_after=0))
    await client.chat_update(channel="C1", ts=posted["ts"], text="y")
    updates = slack.calls("chat.update")
    assert [u.status for u in updates] == [429, 200]
    assert slack.status_429["chat.update"] == 1


async def test_rate_limit_bucket(slack: FakeSlack) -> None:
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)  # no retry handler
    posted = await plain.chat_postMessage(channel="C1", text="x")
    slack.set_rate_limit("chat.update", per_minute=1, burst=2)
    await plain.chat_update(channel="C1", ts=posted["ts"], text="1")
    await plain.chat_update(channel="C1", ts=posted["ts"], text="2")
    with pytest.raises(SlackApiError) as err:
        await plain.chat_update(channel="C1", ts=posted["ts"], text="3")
    assert err.value.response.status_code == 429
    assert int(err.value.response.headers["Retry-After"]) >= 1
    assert slack.limited_429["chat.update"] == 1


async def test_users_reactions_members(slack: FakeSlack, client: AsyncWebClient) -> None:
    info = await client.users_info(user="U1")
    assert info["user"]["real_name"] == "Ada Lovelace"
    assert slack.calls("users.info")[0].http_method == "GET"
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"
    root = await slack.say("U1", "C1", "react to me")
    await client.reactions_add(channel="C1", timestamp=root.ts, name="thumbsup")
    assert slack.ws.message("C1", root.ts).reactions == {"thumbsup": [BOT_USER_ID]}  # type: ignore[union-attr]
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel="C1", timestamp=root.ts, name="thumbsup")
    assert err.value.response["error"] == "already_reacted"
    members: list[str] = []
    cursor = None
    while True:
        page = await client.conversations_members(channel="C1", cursor=cursor)
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(members) == sorted(["U1", "U2", BOT_USER_ID])
    assert len(slack.calls("conversations.members")) == 2


async def test_file_upload_v2_three_steps(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await slack.say("U1", "C1", "file please")
    done = await client.files_upload_v2(
        channel="C1", thread_ts=root.ts, filename="notes.txt", content="héllo", title="Notes"
    )
    file_id = done["file"]["id"]
    f = slack.ws.files[file_id]
    assert f.content == "héllo".encode() and f.title == "Notes"
    assert f.shared_in == [("C1", root.ts)]
    methods = [r.method for r in slack.requests]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_assistant_thread_methods(slack: FakeSlack, client: AsyncWebClient) -> None:
    channel, thread_ts = await slack.open_assistant_thread("U1")  # no app: nobody acks
    await client.assistant_threads_setStatus(
        channel_id=channel, thread_ts=thread_ts, status="is thinking…"
    )
    await client.assistant_threads_setTitle(channel_id=channel, thread_ts=thread_ts, title="T")
    await client.assistant_threads_setSuggestedPrompts(
        channel_id=channel, thread_ts=thread_ts, prompts=[{"title": "a", "message": "a"}]
    )
    thread = slack.ws.assistant_threads[(channel, thread_ts)]
    assert thread.statuses == ["is thinking…"] and thread.titles == ["T"]
    assert thread.prompts == [[{"title": "a", "message": "a"}]]


@pytest.fixture
async def socket_client(slack: FakeSlack):
    slack.delivery = SocketDelivery(slack.socket)
    web = AsyncWebClient(token=APP_TOKEN, base_url=slack.base_url)
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web, ping_interval=5)
    received: list[dict[str, Any]] = []

    async def listener(c: SocketModeClient, req: SocketModeRequest) -> None:
        received.append(
            {"type": req.type, "payload": req.payload, "retry_attempt": req.retry_attempt}
        )
        answer = {"text": "got it"} if req.type == "slash_commands" else None
        await c.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=answer)
        )

    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()
    client.received = received  # type: ignore[attr-defined]
    yield client
    await client.close()


async def test_socket_mode_envelopes_and_acks(
    slack: FakeSlack, socket_client: SocketModeClient
) -> None:
    post = await slack.say("U1", "C1", f"<@{BOT_USER_ID}> hello")
    received = socket_client.received  # type: ignore[attr-defined]
    kinds = [r["payload"]["event"]["type"] for r in received]
    assert kinds == ["message", "app_mention"]
    assert [r["payload"]["event_id"] for r in received] == post.event_ids
    await slack.redeliver(post.event_ids[1], retry_num=1)
    assert received[-1]["retry_attempt"] == 1
    assert len(slack.socket.acks) == 3


async def test_slash_command_over_socket_mode(
    slack: FakeSlack, socket_client: SocketModeClient
) -> None:
    dm = slack.ws.dm_with("U1").id
    answer = await slack.slash_command("U1", dm, "/reset", "now")
    [req] = socket_client.received  # type: ignore[attr-defined]
    assert req["type"] == "slash_commands"
    assert req["payload"]["command"] == "/reset" and req["payload"]["text"] == "now"
    assert req["payload"]["channel_id"] == dm and req["payload"]["user_id"] == "U1"
    assert answer.json() == {"text": "got it"}
    assert slack.commands == [(req["payload"], answer)]


async def test_enforced_tiers_answer_429(slack: FakeSlack) -> None:
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)  # no retry handler
    root = await slack.say("U1", "C1", "question")
    slack.enforce_tiers()
    _, burst = SLACK_TIERS["chat.startStream"]
    for i in range(burst + 1):
        try:
            await plain.chat_startStream(
                channel="C1",
                thread_ts=root.ts,
                recipient_team_id=TEAM_ID,
                recipient_user_id="U1",
                markdown_text=str(i),
            )
        except SlackApiError as exc:
            assert i == burst and exc.response.status_code == 429
    assert slack.limited_429 == {"chat.startStream": 1}
    assert slack.rate_limits["chat.appendStream"].per_minute == 100


async def test_enforced_channel_limits_answer_429_per_channel(slack: FakeSlack) -> None:
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)  # no retry handler
    slack.ws.add_channel("C2", "random", ["U1"])
    slack.enforce_channel_limits()
    per_minute, burst = SLACK_CHANNEL_LIMITS["chat.postMessage"]
    assert slack.channel_limits["chat.postMessage"] == (per_minute, burst)
    for i in range(burst):
        await plain.chat_postMessage(channel="C1", text=f"post {i}")
    with pytest.raises(SlackApiError) as refused:
        await plain.chat_postMessage(channel="C1", text="one too many")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"
    await plain.chat_postMessage(channel="C2", text="another channel has its own budget")
    await plain.chat_update(channel="C1", ts=slack.ws.bot_messages("C1")[0].ts, text="edits pass")
    assert slack.limited_429 == {"chat.postMessage": 1}
    assert slack.limited_429_by_channel == {("chat.postMessage", "C1"): 1}
    assert [m.text for m in slack.ws.bot_messages("C1")][1:] == [
        f"post {i}" for i in range(1, burst)
    ]


async def test_socket_mode_reconnects_on_disconnect(
    slack: FakeSlack, socket_client: SocketModeClient
) -> None:
    assert slack.socket.connects == 1
    await slack.socket.disconnect_all()
    # the SDK reconnects through apps.connections.open on the next monitor tick, or when
    # the server closes; closing is what Slack does after a disconnect message
    await slack.socket.close()
    await slack.wait_for(lambda: slack.socket.connects >= 2, within=15)
    post = await slack.say("U2", "C1", "after reconnect")
    assert socket_client.received[-1]["payload"]["event_id"] == post.event_ids[0]  # type: ignore[attr-defined]


async def test_wait_for_times_out(slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError):
        await slack.wait_for(lambda: False, within=0.05)
    assert asyncio.get_running_loop().is_running()
