"""One message of a reply, written either as a native stream (chat.startStream/appendStream/
stopStream) or by post-then-update (chat.postMessage/chat.update), with its own flush timer.

A message whose channel has no post token free yet waits in the "post" mode for the token it
booked, and is then posted with the latest text (so a reply that queued for long needs no
update afterwards).

The renderer hands over the full text; this class keeps what Slack already shows (``sent``)
and writes only what is missing: appends while streaming, replacements when updating. A
stream that fails mid-reply turns into updates of the same message, continuing from the same
text, so the user never sees text twice. If even that message can't be updated, the rest of
the text continues in a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Literal

from slack_sdk.errors import SlackApiError

from bots.common.pacing import Limit
from bots.slack.limits import message_pacer
from bots.slack.stream_text import stream_suffix

if TYPE_CHECKING:
    from bots.slack.port import SlackReplyPort

log = logging.getLogger(__name__)

Mode = Literal["post", "stream", "update", "dead"]
TERMINAL_ERRORS = frozenset({"stopped_by_user"})
FINAL_UPDATE_ATTEMPTS = 3
POST_ATTEMPTS = 3
"""Tries of a queued post before the message is given up."""
BUDGET_RETRY = 0.05
"""Shortest wait before asking an exhausted workspace budget again."""


def error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or f"http_{exc.response.status_code}")
    except Exception:
        return "unknown"


def markdown_chunk(text: str) -> dict[str, Any]:
    return {"type": "markdown_text", "text": text}


class ReplyMessage:
    def __init__(
        self,
        port: SlackReplyPort,
        mode: Mode,
        ts: str,
        sent: str,
        *,
        post_due: float = 0.0,
    ) -> None:
        self.port = port
        self.mode: Mode = mode
        self.ts = ts
        self.offset = 0
        """Characters of the logical text shown in earlier Slack messages (after a failure)."""
        self.sent = sent
        """What this Slack message shows now."""
        self.target = sent
        self.post_due = post_due
        """In the "post" mode: when the channel's post token this message booked is due."""
        self._post_failures = 0
        self.pending_chunks: list[dict[str, Any]] = []
        self.open_task: dict[str, Any] | None = None
        self.finished = False
        self.pacer = message_pacer(
            port.pacing.stream_flush_interval
            if mode == "stream"
            else port.pacing.message_edit_interval,
            port.pacing.clock,
        )
        self.pacer.take()
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    # --- what the port calls ---------------------------------------------------------------
    def update(self, text: str) -> None:
        """The message should now read ``text``; written on this message's timer."""
        if self.finished or self.mode == "dead":
            return
        self.target = text
        self._kick()

    def add_task(self, chunk: dict[str, Any]) -> bool:
        """Queue a task_update chunk; False when the message no longer streams."""
        if self.mode != "stream" or self.finished:
            return False
        self.open_task = chunk if chunk.get("status") == "in_progress" else None
        self.pending_chunks.append(chunk)
        self._kick()
        return True

    async def finish(self, text: str) -> None:
        self.target = text
        self.finished = True
        async with self._lock:
            if self._flusher is not None:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
                self._flusher = None
            if self.mode == "stream":
                await self._stop_stream()
            if self.mode == "update":
                await self._final_update()
            while self.mode == "post":  # not posted yet, or continuing in a new message
                await self._sleep_until(self.post_due)
                await self._post()

    # --- the timer -------------------------------------------------------------------------
    def _wanted(self) -> str:
        return self.target[self.offset :]

    def _pending(self) -> bool:
        if self.mode == "stream":
            return self._wanted() != self.sent or bool(self.pending_chunks)
        return self.mode in ("post", "update") and self._wanted() != self.sent

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name=f"slack-flush:{self.ts}")

    async def _flush_loop(self) -> None:
        pacing = self.port.pacing
        while not self.finished and self._pending():
            if self.mode == "post":
                delay = self.post_due - pacing.now()
            else:
                delay = self.pacer.wait()
            if delay <= 0 and self.mode != "post":
                budget = pacing.stream_appends if self.mode == "stream" else pacing.updates
                if not budget.try_take():  # over the workspace budget: coalesce and retry
                    delay = max(budget.wait_hint(), BUDGET_RETRY)
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            async with self._lock:
                if self.finished:
                    return
                if self.mode == "post":
                    await self._post()
                elif self.mode == "stream":
                    await self._append()
                elif self.mode == "update":
                    await self._update(self._wanted())

    async def _sleep_until(self, due: float) -> None:
        delay = due - self.port.pacing.now()
        if delay > 0:
            await asyncio.sleep(delay)

    # --- writes (always under the lock) ------------------------------------------------------
    async def _post(self) -> None:
        """Post the latest text now that this message's post token is due; on failure book
        another token (the message is given up after POST_ATTEMPTS)."""
        text = self._wanted()
        if not text.strip():
            self.mode = "dead"
            return
        target = self.port.target
        try:
            resp = await self.port.client.chat_postMessage(
                channel=target.channel, thread_ts=target.thread_ts, markdown_text=text
            )
        except Exception as exc:  # network errors too: the flusher must not die
            self._post_failures += 1
            why = error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            if self._post_failures >= POST_ATTEMPTS:
                log.warning("slack reply post in %s failed (%s); giving up", target.channel, why)
                self.mode = "dead"
            else:
                log.info("slack reply post in %s failed (%s); will retry", target.channel, why)
                self.post_due = self.port.pacing.posts.book(target.channel)
            return
        self.ts = str(resp["ts"])
        self.sent = text
        self.mode = "update"
        self.pacer = message_pacer(self.port.pacing.message_edit_interval, self.port.pacing.clock)
        self.pacer.take()

    async def _append(self) -> None:
        suffix = stream_suffix(self.sent, self._wanted())
        if suffix is None:  # the text changed behind us: only an update can show it
            self._to_updates("text is not an extension")
            return
        chunks = ([markdown_chunk(suffix)] if suffix else []) + self.pending_chunks
        self.pacer.take()
        try:
            await self.port.client.chat_appendStream(
                channel=self.port.target.channel, ts=self.ts, chunks=chunks
            )
        except SlackApiError as exc:
            self._stream_failed(exc)
            return
        self.sent += suffix
        del self.pending_chunks[: len(chunks) - (1 if suffix else 0)]

    async def _stop_stream(self) -> None:
        suffix = stream_suffix(self.sent, self._wanted())
        chunks = [markdown_chunk(suffix)] if suffix else []
        chunks += self.pending_chunks
        if self.open_task is not None:
            chunks.append({**self.open_task, "status": "complete"})
        await self.port.pacing.stream_stops.reserve()
        try:
            await self.port.client.chat_stopStream(
                channel=self.port.target.channel, ts=self.ts, chunks=chunks or None
            )
        except SlackApiError as exc:
            self._stream_failed(exc)
            return
        self.pending_chunks.clear()
        self.open_task = None
        if suffix is None:
            self._to_updates("final text is not an extension")
        else:
            self.sent += suffix

    def _stream_failed(self, exc: SlackApiError) -> None:
        code = error_code(exc)
        if code in TERMINAL_ERRORS:
            log.info("slack stream %s ended by the user", self.ts)
            self.mode = "dead"
            self.port.stopped = True
            return
        self._to_updates(code)

    def _to_updates(self, why: str) -> None:
        log.info("slack stream %s falls back to chat.update (%s)", self.ts, why)
        self.mode = "update"
        self.pending_chunks.clear()
        self.open_task = None
        self.pacer.retime(Limit(1, self.port.pacing.message_edit_interval))  # same last write
        self.port.streaming = False
        if not self.finished:
            self._kick()

    async def _final_update(self) -> None:
        text = self._wanted()
        if text == self.sent:
            return
        delay = self.pacer.wait()
        if delay > 0:
            await asyncio.sleep(delay)
        for _ in range(FINAL_UPDATE_ATTEMPTS):
            await self.port.pacing.updates.reserve()
            if await self._update(text):
                return

    async def _update(self, text: str) -> bool:
        """One chat.update; False when rate limited (the caller tries again later)."""
        self.pacer.take()
        try:
            await self.port.client.chat_update(
                channel=self.port.target.channel, ts=self.ts, markdown_text=text
            )
        except SlackApiError as exc:
            code = error_code(exc)
            if code == "ratelimited":
                return False  # the retry handler gave up already
            log.warning(
                "slack update of %s failed (%s); continuing in a new message", self.ts, code
            )
            self._continue_in_new_message(text)
            return True
        self.sent = text
        return True

    def _continue_in_new_message(self, text: str) -> None:
        """The rest of the text goes into a new message, posted when its channel's turn
        comes (the flush timer or ``finish`` posts it)."""
        shown = len(self.sent) if text.startswith(self.sent) else 0
        self.offset += shown
        self.sent = ""
        if not text[shown:].strip():
            self.mode = "dead"
            return
        self.mode = "post"
        self._post_failures = 0
        self.post_due = self.port.pacing.posts.book(self.port.target.channel)
        if not self.finished:
            self._kick()
