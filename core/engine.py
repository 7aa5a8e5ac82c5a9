"""The run engine: one ordered queue per conversation, runs driven through a backend and
rendered through a platform port, tools dispatched through the registry.

- A user message is stored (inbox) before its run starts; duplicates (by event id) are dropped.
- Per conversation, turns run strictly in order; different conversations run concurrently.
- At start-up, runs left active by a crash are closed through the backend, and adapters can
  have the messages they left unanswered answered (``resume_interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.backends.base import UNAVAILABLE, Backend, RunRequest
from core.events import Finished, Progress, TextDelta, ToolCallsRequired
from core.inputs import clean_text, input_problem
from core.keys import ConversationKey
from core.port import ReplyPort
from core.render.renderer import StreamRenderer
from core.settings import Settings
from core.tools.registry import ToolContext, ToolRegistry
from storage.base import Storage
from storage.records import INTERRUPTED, InboxMessage, ThreadRef

log = logging.getLogger(__name__)

EMPTY_ANSWER = "The assistant returned an empty reply."
INBOX_RETENTION = 7 * 86_400.0
"""Answered messages are kept this long (s) in the inbox; the threads keep the history."""
RESUME_WINDOW = 3600.0
"""Messages a crash interrupted are answered after a restart only if at most this old (s)."""


@dataclass(slots=True)
class IncomingMessage:
    """A user message from any platform, normalised."""

    key: ConversationKey
    text: str
    user_id: str
    event_id: str | None = None
    """Platform delivery id used for deduplication (Slack event_id, Discord message id…)."""
    handle: Any = None
    """Platform handle handed to tools through ToolContext.handle."""
    message_ref: Any = None
    """The triggering platform message, handed to tools through ToolContext.message_ref."""
    reply_target: dict[str, Any] | None = None
    """JSON-able: where to answer. Stored with the message, so that an adapter can answer a
    message a crash interrupted (see ``Engine.resume_interrupted``)."""


@dataclass(slots=True)
class _Turn:
    msg: IncomingMessage
    port: ReplyPort | asyncio.Future[ReplyPort | None]
    """A future for resumed turns: their port is rebuilt while they wait in line."""
    inbox_id: int | None
    notice: str | None = None  # a short reply instead of a run (bad input)
    resume_turn: str | None = None  # the crashed run whose message this answers


@dataclass(slots=True)
class _Ready:
    """A turn whose port is known."""

    msg: IncomingMessage
    port: ReplyPort
    inbox_id: int | None
    notice: str | None
    resume_turn: str | None


@dataclass(slots=True)
class _Interrupted:
    message: InboxMessage
    crashed_run: str | None

    @property
    def key(self) -> ConversationKey:
        return ConversationKey.parse(self.message.conversation)


@dataclass(slots=True)
class _Reset:
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Conversation:
    items: deque[_Turn | _Reset] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:10]


def tool_status(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in dict.fromkeys(names))
    return f"Running {shown}…"


class Engine:
    def __init__(
        self, settings: Settings, storage: Storage, backend: Backend, registry: ToolRegistry
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.backend = backend
        self.registry = registry
        self._conversations: dict[str, _Conversation] = {}
        self._interrupted: list[_Interrupted] = []
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        await self.backend.start()
        await self.recover()

    async def recover(self) -> None:
        """Close runs a crash left active; keep their unanswered messages for adapters to
        answer (``resume_interrupted``) when they are recent and say where to reply."""
        runs = await self.storage.active_runs()
        crashed: dict[int, str] = {}
        for run in runs:
            try:
                in_thread = await self.backend.recover(run)
            except Exception:
                log.exception("recovery of run %s failed", run.run_id)
                await self.storage.mark_interrupted(run.run_id)
                in_thread = False
            if run.inbox_id is not None and in_thread:
                crashed[run.inbox_id] = run.run_id
        await self.storage.prune_inbox(INBOX_RETENTION)
        pending = await self.storage.inbox_with_status("pending")
        now = time.time()
        for message in pending:
            await self.storage.close_inbox(message.id, INTERRUPTED)
            if message.id not in crashed and await self.storage.inbox_has_finished_run(message.id):
                continue  # answered: the crash came while the reply was being shown
            if message.reply_target is not None and now - message.created_at < RESUME_WINDOW:
                self._interrupted.append(_Interrupted(message, crashed.get(message.id)))
        if runs or pending:
            log.info("recovered %d active runs and %d pending messages", len(runs), len(pending))

    async def resume_interrupted(
        self, platform: str, make_port: Callable[[IncomingMessage], Awaitable[ReplyPort | None]]
    ) -> int:
        """Answer this platform's messages that a crash left unanswered, in order.

        ``make_port`` gets each message (key, text, user, ``reply_target``), may set its
        ``handle`` and ``message_ref`` for tools, and returns a port (or None to skip it).
        Returns how many were queued.
        """
        mine = [i for i in self._interrupted if i.key.platform == platform]
        self._interrupted = [i for i in self._interrupted if i.key.platform != platform]
        loop = asyncio.get_running_loop()
        places: list[tuple[_Interrupted, IncomingMessage, asyncio.Future[ReplyPort | None]]] = []
        for item in mine:  # take each message's place in line before awaiting anything
            m = item.message
            msg = IncomingMessage(item.key, m.text, m.user_id, reply_target=m.reply_target)
            port: asyncio.Future[ReplyPort | None] = loop.create_future()
            self._enqueue(item.key, _Turn(msg, port, m.id, resume_turn=item.crashed_run))
            places.append((item, msg, port))
        queued = 0
        for item, msg, port in places:
            try:
                port.set_result(await make_port(msg))
            except Exception:
                log.exception("could not rebuild a reply port for message %d", item.message.id)
                port.set_result(None)
            queued += port.result() is not None
        if queued:
            log.info("answering %d %s messages interrupted by a restart", queued, platform)
        return queued

    async def close(self, grace: float = 0.0) -> None:
        """Stop: turns still running after ``grace`` seconds are cancelled, and their users
        are told the reply was interrupted."""
        self._closed = True
        if grace > 0:
            try:
                async with asyncio.timeout(grace):
                    await self.wait_idle()
            except TimeoutError:
                log.warning("shutdown: cancelling %d unfinished turns", len(self._conversations))
        tasks = [c.task for c in self._conversations.values() if c.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backend.close()
        await self.storage.close()

    async def wait_idle(self) -> None:
        """Wait until every queued turn has finished."""
        while True:
            tasks = [c.task for c in self._conversations.values() if c.task]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- the public surface for adapters ----------------------------------------------
    async def submit(self, msg: IncomingMessage, port: ReplyPort) -> bool:
        """Store and queue a message; the reply streams through ``port`` in the background.

        Returns False for a duplicate delivery (same platform event id seen before).
        """
        if self._closed:
            raise RuntimeError("engine is closed")
        if msg.event_id is not None and not await self.claim_event(msg.key.platform, msg.event_id):
            return False
        msg.text = clean_text(msg.text)
        notice = input_problem(msg.text, self.settings.max_input_chars)
        inbox_id = None
        if notice is None:
            try:
                inbox_id = await self.storage.add_inbox(
                    msg.key.as_str(), msg.user_id, msg.text, msg.reply_target
                )
            except BaseException:
                if msg.event_id is not None:  # let the platform's redelivery through
                    await self.storage.release_event(f"{msg.key.platform}:{msg.event_id}")
                raise
        self._enqueue(msg.key, _Turn(msg, port, inbox_id, notice))
        return True

    async def claim_event(self, platform: str, event_id: str) -> bool:
        """Record a platform delivery id (persisted, with a TTL); False if seen before.

        ``submit`` does this itself for messages; adapters use it for other deliveries
        (e.g. a reset command) that must not act twice.
        """
        event_key = f"{platform}:{event_id}"
        if await self.storage.claim_event(event_key, self.settings.dedupe_ttl_seconds):
            return True
        log.info("duplicate delivery %s ignored", event_key)
        return False

    def queue_reset(self, key: ConversationKey) -> asyncio.Future[None]:
        """Queue a fresh assistant thread for ``key`` now, synchronously: turns already queued
        finish on the old thread, every message submitted after this call uses the new one.
        The future resolves once the reset is done."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(key, _Reset(done))
        return done

    async def reset(self, key: ConversationKey) -> None:
        """Start a fresh assistant thread for ``key``, after any turn already queued."""
        await self.queue_reset(key)

    async def has_conversation(self, key: ConversationKey) -> bool:
        conv = key.as_str()
        return conv in self._conversations or await self.storage.get_thread(conv) is not None

    async def remember(self, namespace: str, key: str, value: Any) -> None:
        """Keep a small JSON value for an adapter across restarts."""
        await self.storage.put_state(namespace, key, value)

    async def recall(self, namespace: str, key: str) -> Any | None:
        """A value kept with ``remember``, or None."""
        return await self.storage.get_state(namespace, key)

    async def link_message(self, platform: str, message_id: str, key: ConversationKey) -> None:
        await self.storage.link_message(platform, message_id, key.as_str())

    async def conversation_for_message(
        self, platform: str, message_id: str
    ) -> ConversationKey | None:
        conv = await self.storage.conversation_for_message(platform, message_id)
        return ConversationKey.parse(conv) if conv else None

    # --- queueing ---------------------------------------------------------------------
    def _enqueue(self, key: ConversationKey, item: _Turn | _Reset) -> None:
        conv = key.as_str()
        state = self._conversations.get(conv)
        if state is None:
            state = self._conversations[conv] = _Conversation()
        state.items.append(item)
        if state.task is None:
            state.task = asyncio.create_task(self._drain(conv, state), name=f"conv:{conv}")

    async def _drain(self, conv: str, state: _Conversation) -> None:
        try:
            while state.items:
                item = state.items.popleft()
                if isinstance(item, _Reset):
                    await self._do_reset(conv, item)
                    continue
                try:
                    await self._turn(conv, item)
                except Exception:  # e.g. storage failing while closing the turn
                    log.exception("turn bookkeeping failed in %s", item.msg.key.platform)
        finally:
            state.task = None
            if not state.items:
                self._conversations.pop(conv, None)
            elif not self._closed:  # cancelled with work left: keep it going
                state.task = asyncio.create_task(self._drain(conv, state), name=f"conv:{conv}")

    async def _do_reset(self, conv: str, item: _Reset) -> None:
        try:
            await self.storage.forget_thread(conv)
        except Exception as exc:
            item.done.set_exception(exc)
        else:
            item.done.set_result(None)

    async def _thread_for(self, conv: str) -> str:
        ref = await self.storage.get_thread(conv)
        if ref is not None and ref.backend == self.backend.name:
            return ref.thread_id
        thread_id = await self.backend.new_thread()
        await self.storage.set_thread(conv, ThreadRef(thread_id, self.backend.name))
        return thread_id

    # --- one turn ---------------------------------------------------------------------
    async def _turn(self, conv: str, waiting: _Turn) -> None:
        cid = new_correlation_id()
        port = await waiting.port if isinstance(waiting.port, asyncio.Future) else waiting.port
        if port is None:  # a resumed message whose place to answer is gone
            return
        turn = _Ready(waiting.msg, port, waiting.inbox_id, waiting.notice, waiting.resume_turn)
        renderer = StreamRenderer(port)
        if turn.notice is not None:
            await renderer.close(turn.notice)
            return
        started = time.monotonic()
        final = Finished("failed", error=UNAVAILABLE)
        try:
            await _quietly(turn.port.show_thinking(), "show_thinking", cid)
            final = await self._run(conv, turn, renderer, cid)
        except asyncio.CancelledError:
            final = Finished("cancelled", error="The reply was interrupted by a shutdown.")
            await asyncio.shield(self._finish(turn, renderer, final, cid))
            raise
        except Exception:
            log.exception("turn in %s failed [%s]", turn.msg.key.platform, cid)
        # The outcome is recorded before the last text is shown, and showing it is shielded:
        # a stop or crash from here on can't get the message answered a second time.
        await asyncio.shield(self._finish(turn, renderer, final, cid))
        log.info(
            "turn %s status=%s tokens=%d+%d chars=%d ms=%d [%s]",
            turn.msg.key.platform,
            final.status,
            final.usage.prompt_tokens,
            final.usage.completion_tokens,
            len(renderer.text),
            (time.monotonic() - started) * 1000,
            cid,
        )

    async def _run(self, conv: str, turn: _Ready, renderer: StreamRenderer, cid: str) -> Finished:
        msg = turn.msg
        thread_id = await self._thread_for(conv)
        platform = msg.key.platform
        request = RunRequest(
            thread_id=thread_id,
            conversation=conv,
            user_text=msg.text,
            user_id=msg.user_id,
            tools=self.registry.schemas_for(platform),
            correlation_id=cid,
            inbox_id=turn.inbox_id,
            resume_turn=turn.resume_turn,
        )
        ctx = ToolContext(
            platform=platform,
            user_id=msg.user_id,
            key=msg.key,
            handle=msg.handle,
            message_ref=msg.message_ref,
            correlation_id=cid,
        )
        final = Finished("failed", error=UNAVAILABLE)
        separate = False
        async for event in self.backend.run(request):
            if isinstance(event, TextDelta):
                if separate and renderer.text:
                    renderer.append("\n\n")
                separate = False
                renderer.append(event.delta)
            elif isinstance(event, ToolCallsRequired):
                renderer.set_status(tool_status([c.name for c in event.calls]))
                log.info("tools %s [%s]", [c.name for c in event.calls], cid)
                event.outputs = await self.registry.invoke_all(event.calls, ctx)
            elif isinstance(event, Progress):
                separate = separate or event.kind == "message_started"
            elif isinstance(event, Finished):
                final = event
        return final

    async def _finish(
        self, turn: _Ready, renderer: StreamRenderer, final: Finished, cid: str
    ) -> None:
        if turn.inbox_id is not None:
            await self.storage.close_inbox(turn.inbox_id, final.status)
        error = final.error
        if error is None and not renderer.text.strip():
            error = EMPTY_ANSWER
        if error is not None:
            error = f"{error} (ref {cid})"
            if await _quietly(turn.port.show_error(error), "show_error", cid):
                error = None
        await renderer.close(error)


async def _quietly(call: Any, what: str, cid: str) -> Any:
    """Await a cosmetic port call; a platform hiccup there must not fail the turn."""
    try:
        return await call
    except Exception:
        log.warning("port.%s failed [%s]", what, cid, exc_info=True)
        return None
