"""Inbound: what the bot does with each kind of Slack event (mentions, thread follow-ups, DMs,
DM resets and assistant-pane messages), turning it into an ``IncomingMessage`` for the engine.
Bolt listeners in :mod:`bots.slack.app` call these.

Each handler takes its conversation's place in line (:mod:`bots.common.arrival`) before its
first await, so messages and resets of a conversation reach the engine in arrival order; a
reset is queued with the engine's synchronous ``queue_reset`` before it is confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.common.arrival import ArrivalOrder
from bots.common.observer import Observer, ignore
from bots.common.replies import take_failed, too_many_new
from bots.slack import filters
from bots.slack.assistant_pane import PaneContextStore, title_from, with_viewing
from bots.slack.history import missed_history, with_history
from bots.slack.keys import (
    PLATFORM,
    SavedTarget,
    dm_key,
    mention_key,
    pane_key,
    pane_marker,
    team_of,
    thread_key,
)
from bots.slack.pacing import SlackPacing
from bots.slack.port import SlackReplyPort
from bots.slack.reply_message import error_code
from bots.slack.settings import SlackSettings
from bots.slack.tools import SlackHandle, SlackMessageRef
from core.engine import Engine
from core.keys import ConversationKey
from core.logs import new_ref
from core.messages import IncomingMessage

log = logging.getLogger(__name__)

RESET_REPLY = "Started a fresh conversation. What would you like to talk about?"
RESET_ELSEWHERE = "Use /reset in a direct message with me; in a channel, start a new thread."
StatusSetter = Callable[[str], Awaitable[Any]]


class SlackIntake:
    def __init__(
        self,
        settings: SlackSettings,
        engine: Engine,
        client: AsyncWebClient,
        pacing: SlackPacing,
        *,
        contexts: PaneContextStore | None = None,
        stream: bool = True,
        observe: Observer = ignore,
    ) -> None:
        self.settings = settings
        self.contexts = contexts or PaneContextStore()
        """The pane's thread contexts, shared with Bolt's ``AsyncAssistant``."""
        self.engine = engine
        self.client = client
        self.pacing = pacing
        self.stream = stream
        self.order = ArrivalOrder()
        self.observe = observe

    @contextlib.contextmanager
    def counted(self, body: dict[str, Any]) -> Iterator[None]:
        """Wrap a listener so that it is observed once it is done, whatever happened."""
        try:
            yield
        finally:
            self.observe("handled", event_id=body.get("event_id"))

    # --- channels --------------------------------------------------------------------
    async def on_mention(self, body: dict[str, Any], bot_user_id: str | None) -> None:
        event = body["event"]
        if filters.ignore_reason(event, bot_user_id):
            return
        key = mention_key(team_of(body), event)
        text = filters.strip_mention(event.get("text", ""), bot_user_id)
        mid_thread = event.get("thread_ts") and event["thread_ts"] != event["ts"]
        async with self.order.turn(key):
            if not event.get("thread_ts") and not await self._may_start(body, key):
                return
            if (
                mid_thread
                and not await self.engine.has_conversation(key)
                and self.pacing.history_reads.try_take()
            ):
                history = await missed_history(
                    self.client, key.channel, event["thread_ts"], event["ts"]
                )
                text = with_history(history, text)
            await self.submit(body, key, text)

    async def _may_start(self, body: dict[str, Any], key: ConversationKey) -> bool:
        """A top-level mention starts a conversation: within the user's hourly quota, or a
        short reply in its thread instead (once per delivery)."""
        state = self.engine.state
        if state.may_start_conversation(PLATFORM, str(body["event"].get("user", ""))):
            return True
        event_id = body.get("event_id")
        if event_id and not await state.claim_event(PLATFORM, str(event_id)):
            self.observe("duplicate")
            return False
        await self.pacing.posts.reserve(key.channel)
        await self.client.chat_postMessage(
            channel=key.channel,
            thread_ts=key.thread,
            text=too_many_new(state.new_conversations_per_hour),
        )
        return False

    async def on_message(self, body: dict[str, Any], bot_user_id: str | None) -> None:
        """Every ``message`` event not taken by the assistant pane."""
        event = body["event"]
        reason = filters.ignore_reason(event, bot_user_id)
        if reason:
            log.debug("slack message ignored: %s", reason)
            return
        text = event.get("text", "")
        if filters.is_dm(event):
            key = dm_key(team_of(body), event)
            text = filters.strip_mention(text, bot_user_id)
            if filters.is_reset(text):
                await self.reset(body, key)
                return
            async with self.order.turn(key):
                await self.submit(body, key, text)
            return
        if filters.mentions(text, bot_user_id):
            return  # its app_mention twin answers it
        followup = thread_key(team_of(body), event)
        if followup is None:
            return
        async with self.order.turn(followup):
            if await self.engine.has_conversation(followup):
                await self.submit(body, followup, text)

    # --- assistant pane ---------------------------------------------------------------
    async def on_pane_started(
        self, body: dict[str, Any], set_suggested_prompts: Callable[..., Awaitable[Any]]
    ) -> None:
        thread = body["event"]["assistant_thread"]
        key = pane_key(team_of(body), thread["channel_id"], thread["thread_ts"])
        await self.engine.state.link_message(
            PLATFORM, pane_marker(thread["channel_id"], thread["thread_ts"]), key
        )
        await self.on_pane_context_changed(body)
        prompts = self.settings.prompt_list
        if prompts:
            try:
                await set_suggested_prompts(prompts=prompts)
            except SlackApiError as exc:
                log.warning("slack suggested prompts failed: %s", error_code(exc))

    async def on_pane_context_changed(self, body: dict[str, Any]) -> None:
        """Remember the channel the user is viewing (from thread_started or a change)."""
        thread = body["event"]["assistant_thread"]
        context = thread.get("context") or {}
        if context.get("channel_id"):
            await self.contexts.save(
                channel_id=thread["channel_id"], thread_ts=thread["thread_ts"], context=context
            )

    async def on_pane_message(
        self,
        body: dict[str, Any],
        bot_user_id: str | None,
        set_status: StatusSetter,
        set_title: StatusSetter,
    ) -> None:
        """A threaded DM message: the assistant pane, or a plain threaded reply in a DM."""
        event = body["event"]
        if filters.ignore_reason(event, bot_user_id):
            return
        key = dm_key(team_of(body), event)
        text = filters.strip_mention(event.get("text", ""), bot_user_id)
        if filters.is_reset(text):
            await self.reset(body, key)
            return
        async with self.order.turn(key):
            await self._pane_message(body, key, text, set_status, set_title)

    async def _pane_message(
        self,
        body: dict[str, Any],
        key: ConversationKey,
        text: str,
        set_status: StatusSetter,
        set_title: StatusSetter,
    ) -> None:
        marker = pane_marker(key.channel, key.thread or "")
        is_pane = await self.engine.state.conversation_for_message(PLATFORM, marker) is not None
        if is_pane and not await self.engine.has_conversation(key):
            try:
                await set_title(title_from(text))
            except SlackApiError as exc:
                log.warning("slack pane title failed: %s", error_code(exc))
        if not is_pane:
            await self.submit(body, key, text)
            return
        viewing = await self.contexts.viewing_news(key.channel, key.thread or "")
        if viewing and text:
            text = with_viewing(viewing, text)
        if await self.submit(body, key, text, set_status=set_status) and viewing and text:
            await self.contexts.mark_told(key.channel, key.thread or "", viewing)

    # --- shared -------------------------------------------------------------------------
    async def submit(
        self,
        body: dict[str, Any],
        key: ConversationKey,
        text: str,
        *,
        set_status: StatusSetter | None = None,
    ) -> bool:
        event = body["event"]
        target = SavedTarget(
            team=team_of(body),
            channel=key.channel,
            thread_ts=key.thread,
            message_ts=str(event["ts"]),
            user=str(event.get("user", "")),
            pane=set_status is not None,
        )
        msg = IncomingMessage(
            key=key,
            text=text,
            user_id=target.user,
            event_id=body.get("event_id"),
            reply_target=target.as_json(),
        )
        port = self._open(msg, target, set_status)
        try:
            accepted = await self.engine.submit(msg, port)
        except Exception:
            # Bolt acked the event already: Slack won't deliver it again, so say so now
            await self._tell_not_taken(key)
            return False
        if accepted:
            self.observe("accepted")
        else:
            self.observe("duplicate")
            log.info("slack duplicate delivery %s ignored", body.get("event_id"))
        return accepted

    async def _tell_not_taken(self, key: ConversationKey) -> None:
        ref = new_ref()
        log.exception("slack: could not take a message in %s [%s]", key.channel, ref)
        try:
            await self.pacing.posts.reserve(key.channel)
            await self.client.chat_postMessage(
                channel=key.channel, thread_ts=key.thread, text=take_failed(ref)
            )
        except SlackApiError as exc:
            log.warning("slack: could not say so either [%s]: %s", ref, error_code(exc))

    async def reopen(self, msg: IncomingMessage) -> SlackReplyPort | None:
        """The reply port of a message a crash left unanswered (``Engine.resume_interrupted``),
        rebuilt from its stored target: the same thread, streamed natively with the post and
        update fallback, the pane's status when it came from the pane. None when the stored
        target is unusable. Awaits nothing, so resumed messages are queued before any event
        that arrives after the restart."""
        target = SavedTarget.from_json(msg.reply_target)
        if target is None or target.channel != msg.key.channel:
            log.warning("slack: an interrupted message has no usable reply target; skipped")
            return None
        set_status: StatusSetter | None = None
        if target.pane and target.thread_ts:
            set_status = self._pane_status(target.channel, target.thread_ts)
        self.observe("resumed")
        port = self._open(msg, target, set_status)
        return port

    def _open(
        self, msg: IncomingMessage, target: SavedTarget, set_status: StatusSetter | None
    ) -> SlackReplyPort:
        """The reply port for ``msg``; sets its tool handle and triggering message."""
        msg.handle = SlackHandle(
            self.client, target.channel, target.thread_ts, target.team, pacing=self.pacing
        )
        msg.message_ref = SlackMessageRef(target.channel, target.message_ts)
        return SlackReplyPort(
            self.client,
            target.reply,
            self.pacing,
            recipient_team_id=target.team or None,
            recipient_user_id=target.user or None,
            set_status=set_status,
            stream=self.stream,
        )

    def _pane_status(self, channel: str, thread_ts: str) -> StatusSetter:
        """What Bolt's ``set_status`` does in a pane listener, for a resumed pane message."""

        async def set_status(status: str) -> Any:
            return await self.client.assistant_threads_setStatus(
                channel_id=channel, thread_ts=thread_ts, status=status
            )

        return set_status

    async def reset(self, body: dict[str, Any], key: ConversationKey) -> None:
        """A DM ``reset``: a fresh thread and a short confirmation, once per delivery (a
        retried event is recognised by its persisted event id, even after a restart). The
        reset is queued before the confirmation is sent: a message that arrives meanwhile
        lands in the fresh thread."""
        async with self.order.turn(key):
            event_id = body.get("event_id")
            if event_id and not await self.engine.state.claim_event(PLATFORM, str(event_id)):
                self.observe("duplicate")
                return
            self.queue_reset(key)
        await self.pacing.posts.reserve(key.channel)
        await self.client.chat_postMessage(
            channel=key.channel, thread_ts=key.thread, text=RESET_REPLY
        )

    async def reset_command(self, key: ConversationKey, command: dict[str, Any]) -> None:
        """``/reset``: queue the reset in arrival order (the caller then answers). A command
        delivered again (a replayed request: same ``trigger_id``) resets nothing."""
        async with self.order.turn(key):
            trigger = command.get("trigger_id")
            if trigger and not await self.engine.state.claim_event(PLATFORM, f"cmd:{trigger}"):
                self.observe("duplicate")
                return
            self.queue_reset(key)

    def queue_reset(self, key: ConversationKey) -> asyncio.Future[None]:
        """Queue a fresh thread for ``key`` now; messages submitted later use it."""
        done = self.engine.queue_reset(key)
        self.observe("reset")
        done.add_done_callback(_log_reset_failure)
        return done

    @staticmethod
    def reset_command_key(command: dict[str, Any]) -> ConversationKey | None:
        """``/reset`` as a slash command resets the DM conversation it is typed in."""
        channel = str(command.get("channel_id", ""))
        if not channel.startswith("D"):
            return None
        return ConversationKey(PLATFORM, str(command.get("team_id", "")), channel, None)


def _log_reset_failure(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.error("slack conversation reset failed", exc_info=exc)
