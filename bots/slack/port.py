"""The Slack reply port: native streaming where a thread exists, post-then-update otherwise or
after a stream fails, tool progress as task updates, and the pane's "is thinking…" status.
Posts keep to the channel's post budget: a post without a free token is queued for its turn
(the renderer carries on; the message goes out with the latest text when due)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.filters import defuse_broadcasts
from bots.slack.keys import ReplyTarget
from bots.slack.pacing import SlackPacing
from bots.slack.reply_message import TERMINAL_ERRORS, ReplyMessage, error_code
from core.port import BasePort

log = logging.getLogger(__name__)

MARKDOWN_LIMIT_CHARS = 12_000
THINKING = "is thinking…"


class SlackReplyPort(BasePort):
    max_length = MARKDOWN_LIMIT_CHARS
    edit_interval = 0.1
    """The renderer may hand over text often: each message coalesces and paces its own writes."""

    def __init__(
        self,
        client: AsyncWebClient,
        target: ReplyTarget,
        pacing: SlackPacing,
        *,
        recipient_team_id: str | None = None,
        recipient_user_id: str | None = None,
        set_status: Callable[[str], Awaitable[Any]] | None = None,
        stream: bool = True,
    ) -> None:
        self.client = client
        self.target = target
        self.pacing = pacing
        self.recipient_team_id = recipient_team_id
        self.recipient_user_id = recipient_user_id
        self._set_status = set_status
        self.streaming = stream and target.can_stream
        self.stopped = False
        """The user stopped the stream: nothing more is shown."""
        self.messages: list[ReplyMessage] = []
        self._prestarted: ReplyMessage | None = None
        self._task_ids = itertools.count(1)

    # --- messages ------------------------------------------------------------------------
    async def post(self, text: str) -> Any:
        text = defuse_broadcasts(text, final=False)
        if self._prestarted is not None:
            msg, self._prestarted = self._prestarted, None
            msg.update(text)
            return msg
        if self.stopped:
            return self._remember(ReplyMessage(self, "dead", "", ""))
        if self.streaming:
            streamed = await self._start_stream(markdown_text=text)
            if streamed is not None:
                streamed.sent = streamed.target = text
                return streamed
        due = self.pacing.posts.book(self.target.channel)
        if due > self.pacing.now():  # the channel's post budget is spent: queue for a turn
            queued = self._remember(ReplyMessage(self, "post", "", "", post_due=due))
            queued.update(text)
            return queued
        resp = await self.client.chat_postMessage(
            channel=self.target.channel, thread_ts=self.target.thread_ts, markdown_text=text
        )
        return self._remember(ReplyMessage(self, "update", str(resp["ts"]), text))

    async def edit(self, handle: Any, text: str) -> None:
        handle.update(defuse_broadcasts(text, final=False))

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        await handle.finish(defuse_broadcasts(text))

    async def _start_stream(self, **content: Any) -> ReplyMessage | None:
        """A new streamed message, or None when streaming is unavailable (the caller posts
        instead): Slack refused it, or the workspace's stream-start budget is spent."""
        if not self.pacing.stream_starts.try_take():
            return None
        try:
            resp = await self.client.chat_startStream(
                channel=self.target.channel,
                thread_ts=self.target.thread_ts or "",
                recipient_team_id=self.recipient_team_id,
                recipient_user_id=self.recipient_user_id,
                **content,
            )
        except SlackApiError as exc:
            code = error_code(exc)
            if code in TERMINAL_ERRORS:
                self.stopped = True
                return self._remember(ReplyMessage(self, "dead", "", ""))
            log.info("slack streaming unavailable in %s (%s); posting", self.target.channel, code)
            self.streaming = False
            return None
        return self._remember(ReplyMessage(self, "stream", str(resp["ts"]), ""))

    def _remember(self, msg: ReplyMessage) -> ReplyMessage:
        self.messages.append(msg)
        return msg

    # --- status --------------------------------------------------------------------------
    async def show_thinking(self) -> None:
        if self._set_status is not None:
            await self._set_status(THINKING)

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        """Tool progress as streamed task updates; inline text when not streaming."""
        if not self.streaming:
            return False
        msg: ReplyMessage | None = handle if handle is not None else self._prestarted
        if status is None:
            if msg is None or msg.open_task is None:
                return True
            return msg.add_task({**msg.open_task, "status": "complete"})
        chunk = {
            "type": "task_update",
            "id": f"tool-{next(self._task_ids)}",
            "title": status,
            "status": "in_progress",
        }
        if msg is not None:
            if msg.open_task is not None:
                msg.add_task({**msg.open_task, "status": "complete"})
            return msg.add_task(chunk)
        started = await self._start_stream(chunks=[chunk])
        if started is None or started.mode != "stream":
            return False
        started.open_task = chunk
        self._prestarted = started
        return True

    async def show_error(self, text: str) -> bool:
        return False  # shown as text in the thread by the renderer

    async def close(self) -> None:
        """Finish a stream opened for a status but never used for text."""
        if self._prestarted is not None:
            msg, self._prestarted = self._prestarted, None
            await msg.finish("")
