"""StreamRenderer: shows a streamed reply through a ReplyPort by posting, then editing in place.

One background flusher task per renderer makes every port call, one at a time: the first
post as soon as text exists, then edits of the current message at most once per
``port.edit_interval`` (deltas coalesce meanwhile). A message that outgrows
``port.max_length`` is cut with the fence-aware splitter: its head is finished, the tail
continues in a new message. ``close()`` lands the final text of every message with exactly
one ``port.finish`` per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from core.port import ReplyPort
from core.render.split import open_fence_marker, split_all, split_tail
from core.render.throttle import (
    NO_TEXT_LABEL,
    append_error,
    compose,
    edit_delay,
    text_limit,
    visible,
)

log = logging.getLogger(__name__)


class _Message:
    """One platform message of the reply."""

    __slots__ = ("done", "final", "handle", "last_call_at", "posted", "sent")

    def __init__(self, final: str | None = None) -> None:
        self.handle: Any = None
        self.posted = False
        self.sent: str | None = None
        """The last text sent with post or edit."""
        self.final = final
        """Set once the message's text is settled (it was split off, or on close)."""
        self.done = False
        """finish() was called (or the message never needed posting)."""
        self.last_call_at: float | None = None
        """Loop time at which the last post/edit of this message started."""


class StreamRenderer:
    """Renders one reply. ``append`` and ``set_status`` are synchronous and cheap; all port
    calls happen in one background task, never two at a time."""

    def __init__(self, port: ReplyPort, clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self._clock = clock
        self._chunks: list[str] = []
        self._pending: list[str] = []
        self._cur = ""
        """Text of the current (last) message, pending deltas not yet folded in."""
        self._msgs: list[_Message] = [_Message()]
        self._first_open = 0
        """Index of the first message not yet done."""
        self._status: str | None = None
        self._status_shown: str | None = None
        self._status_native = False
        self._inline: str | None = None
        self._wake = asyncio.Event()
        self._closing_evt = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.first_post_at: float | None = None
        self.last_visible_at: float | None = None
        self.landed = True
        """False once a message's final text could not be shown (the port failed)."""

    # --- public, synchronous ----------------------------------------------------------
    def append(self, delta: str) -> None:
        """Add model text. The first call schedules the first post at once."""
        if not delta or self._closing:
            return
        self._chunks.append(delta)
        self._pending.append(delta)
        self._status = None
        self._wake.set()
        if self._task is None:
            self._start()

    def set_status(self, status: str | None) -> None:
        """Show tool progress until text resumes; None clears it."""
        if self._closing:
            return
        self._status = status or None
        self._wake.set()
        if self._task is None:
            self._start()

    @property
    def text(self) -> str:
        """Everything appended so far, unsplit."""
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    @property
    def handles(self) -> list[Any]:
        """Handles returned by ``port.post``, in message order."""
        return [m.handle for m in self._msgs if m.posted]

    async def close(self, error: str | None = None) -> None:
        """Land the final text of every message (``error``, if given, is shown last) and
        wait for all port calls. Idempotent."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self._closing_evt.set()
        self._wake.set()
        try:
            if self._task is not None:
                await asyncio.gather(self._task, return_exceptions=True)
            await self._final_flush(error)
        finally:
            self._closed.set()

    # --- flusher ----------------------------------------------------------------------
    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._flush_loop(), name="stream-renderer")

    async def _flush_loop(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._step()
            except Exception:
                log.warning("stream renderer step failed", exc_info=True)

    async def _step(self) -> None:
        """Bring the platform up to date: status, split-off heads, then the current message
        (waiting out the edit interval, during which more deltas coalesce)."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            await self._sync_status()
            self._fold(text_limit(self.port.max_length, self._inline, self.port.markup.italic))
            if not await self._finish_settled():
                return
            msg = self._msgs[-1]
            display = compose(
                self._cur, self._inline, self.port.max_length, self.port.markup.italic
            )
            if not visible(display) or display == msg.sent:
                return
            delay = edit_delay(loop.time(), msg.last_call_at, self.port.edit_interval)
            if delay <= 0:
                if msg.posted:
                    await self._edit(msg, display)
                else:
                    await self._post(msg, display)
                return
            await self._pause(delay)
            self._wake.clear()  # whatever arrived meanwhile is handled by this iteration

    async def _pause(self, delay: float) -> None:
        """Sleep on the loop timer; close() cuts it short."""
        try:
            async with asyncio.timeout(delay):
                await self._closing_evt.wait()
        except TimeoutError:
            pass

    def _fold(self, limit: int) -> None:
        """Move pending deltas into the current message; split off heads that do not fit."""
        if self._pending:
            add = "".join(self._pending)
            self._pending.clear()
            if not self._cur and len(self._msgs) > 1:
                add = add.lstrip("\r\n")  # a continuation message starts with content
            self._cur += add
        if len(self._cur) > limit:
            heads, self._cur = split_tail(self._cur, limit)
            self._msgs[-1].final = heads[0]
            self._msgs.extend(_Message(head) for head in heads[1:])
            self._msgs.append(_Message())

    async def _finish_settled(self) -> bool:
        """Finish messages whose text is settled, in order. False if one could not be posted
        (it is retried on the next step) or the renderer is closing."""
        msgs = self._msgs
        while self._first_open < len(msgs) - 1:
            if self._closing or not await self._finish(msgs[self._first_open]):
                return False
            self._first_open += 1
        return True

    # --- port calls -------------------------------------------------------------------
    async def _finish(self, msg: _Message) -> bool:
        text = msg.final or ""
        if not msg.posted:
            if not visible(text):
                msg.done = True
                return True
            if not await self._post(msg, text):
                return False
        elif not visible(text):
            text = self.port.markup.italic(NO_TEXT_LABEL)
        msg.done = True
        changed = text != msg.sent
        try:
            await self.port.finish(msg.handle, text, changed)
        except Exception:
            log.warning("reply port finish failed", exc_info=True)
            self.landed = False
            return True
        msg.sent = text
        if changed:
            self.last_visible_at = self._clock()
        return True

    async def _post(self, msg: _Message, text: str) -> bool:
        msg.last_call_at = asyncio.get_running_loop().time()
        try:
            handle = await self.port.post(text)
        except Exception:
            log.warning("reply port post failed", exc_info=True)
            return False
        msg.handle = handle
        msg.posted = True
        msg.sent = text
        now = self._clock()
        if self.first_post_at is None:
            self.first_post_at = now
        self.last_visible_at = now
        return True

    async def _edit(self, msg: _Message, text: str) -> None:
        msg.last_call_at = asyncio.get_running_loop().time()
        try:
            await self.port.edit(msg.handle, text)
        except Exception:
            log.warning("reply port edit failed", exc_info=True)
            return
        msg.sent = text
        self.last_visible_at = self._clock()

    async def _show_status(self, status: str | None) -> bool:
        handle = next((m.handle for m in reversed(self._msgs) if m.posted), None)
        try:
            return bool(await self.port.show_status(handle, status))
        except Exception:
            log.warning("reply port show_status failed", exc_info=True)
            return False

    async def _sync_status(self) -> None:
        want = self._status
        if want == self._status_shown:
            return
        self._status_shown = want
        if want is None:
            self._inline = None
            if self._status_native:
                self._status_native = False
                await self._show_status(None)
            return
        native = await self._show_status(want)
        self._status_native = native
        self._inline = None if native else want

    # --- close ------------------------------------------------------------------------
    async def _final_flush(self, error: str | None) -> None:
        limit = self.port.max_length
        self._status = self._status_shown = self._inline = None
        if self._status_native:
            self._status_native = False
            await self._show_status(None)
        self._fold(limit)
        text = self._cur
        extra: list[str] = []
        if error:
            marker = open_fence_marker(text)
            closed = text.rstrip("\r\n") + "\n" + marker if marker else text
            combined = append_error(closed, error, limit)
            if combined is not None:
                text = combined
            else:
                extra = split_all(error, limit)
                if not visible(text) and extra:
                    text = extra.pop(0)
        self._msgs[-1].final = text
        self._msgs.extend(_Message(piece) for piece in extra)
        for msg in self._msgs[self._first_open :]:
            if not msg.done and not await self._finish(msg):
                msg.done = True  # could not be posted; the failure is logged
                self.landed = False
        self._first_open = len(self._msgs)
