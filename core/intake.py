"""Messages in: deduplication, input checks, the inbox (a message is stored before its run),
and after a crash, recovery (runs a crash left active are closed, old data is pruned:
``RETENTION_DAYS``) and resume (adapters have the messages a crash left unanswered answered,
once).

Route of one message: adapter → ``Engine.submit`` → :meth:`Intake.take` (claim, check, store)
→ :class:`core.turns.TurnQueue` → :mod:`core.turn_runner` (run, render, record the outcome).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.adapter_state import AdapterState
from core.backends.base import Backend
from core.inputs import clean_text, input_problem
from core.keys import ConversationKey
from core.messages import IncomingMessage
from core.port import ReplyPort
from core.turns import TurnQueue
from storage.base import IntakeStore, RetentionStore, RunStore
from storage.records import INTERRUPTED, InboxMessage

log = logging.getLogger(__name__)

INBOX_RETENTION = 7 * 86_400.0
"""Answered messages are kept this long (s) in the inbox; the threads keep the history."""
RESUME_WINDOW = 3600.0
"""Messages a crash interrupted are answered after a restart only if at most this old (s)."""

TOO_MANY_WAITING = (
    "I'm still working through {n} earlier messages here. Please wait for those answers, "
    "then send this again."
)

PortMaker = Callable[[IncomingMessage], Awaitable[ReplyPort | None]]


@dataclass(slots=True)
class Turn:
    """One queued message and where its reply goes."""

    msg: IncomingMessage
    port: ReplyPort | asyncio.Future[ReplyPort | None]
    """A future for resumed turns: their port is rebuilt while they wait in line."""
    inbox_id: int | None
    notice: str | None = None
    """A short reply instead of a run (bad input)."""
    resume_turn: str | None = None
    """The crashed run whose message this answers."""


@dataclass(slots=True)
class _Interrupted:
    message: InboxMessage
    crashed_run: str | None

    @property
    def key(self) -> ConversationKey:
        return ConversationKey.parse(self.message.conversation)


class Intake:
    def __init__(
        self,
        inbox: IntakeStore,
        runs: RunStore,
        backend: Backend,
        state: AdapterState,
        queue: TurnQueue[Turn],
        max_input_chars: int,
        max_queued: int,
        tell: Callable[[ReplyPort, str], Awaitable[None]],
        retention: RetentionStore,
        retention_days: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inbox = inbox
        self.runs = runs
        self.backend = backend
        self.state = state
        self.queue = queue
        self.max_input_chars = max_input_chars
        self.max_queued = max_queued
        self.tell = tell
        """Shows a short reply at once, outside the conversation's line."""
        self.retention = retention
        self.retention_days = retention_days
        """Data nothing needs any more is forgotten after this many days (0: never)."""
        self.clock = clock
        self._interrupted: list[_Interrupted] = []

    async def take(self, msg: IncomingMessage, port: ReplyPort) -> bool:
        """Claim, check, store and queue a message; False for a duplicate delivery."""
        platform = msg.key.platform
        if msg.event_id is not None and not await self.state.claim_event(platform, msg.event_id):
            return False
        if self.queue.waiting(msg.key) >= self.max_queued:
            log.info("%s conversation has %d turns waiting; refused one", platform, self.max_queued)
            await self.tell(port, TOO_MANY_WAITING.format(n=self.max_queued))
            return True
        msg.text = clean_text(msg.text)
        notice = input_problem(msg.text, self.max_input_chars)
        inbox_id = None
        if notice is None:
            try:
                inbox_id = await self.inbox.add_inbox(
                    msg.key.as_str(), msg.user_id, msg.text, msg.reply_target
                )
            except BaseException:
                if msg.event_id is not None:  # let the platform's redelivery through
                    await self.state.release_event(platform, msg.event_id)
                raise
        self.queue.add(msg.key, Turn(msg, port, inbox_id, notice))
        return True

    async def recover(self) -> None:
        """Close runs a crash left active; keep their unanswered messages for adapters to
        answer (:meth:`resume`) when they are recent and say where to reply."""
        runs = await self.runs.active_runs()
        crashed: dict[int, str] = {}
        for run in runs:
            try:
                in_thread = await self.backend.recover(run)
            except Exception:
                log.exception("recovery of run %s failed", run.run_id)
                await self.runs.mark_interrupted(run.run_id)
                in_thread = False
            if run.inbox_id is not None and in_thread:
                crashed[run.inbox_id] = run.run_id
        await self.inbox.prune_inbox(INBOX_RETENTION)
        await self.prune_old()
        pending = await self.inbox.inbox_with_status("pending")
        now = time.time()
        for message in pending:
            await self.inbox.close_inbox(message.id, INTERRUPTED)
            if message.id not in crashed and await self.runs.inbox_has_finished_run(message.id):
                continue  # answered: the crash came while the reply was being shown
            if message.reply_target is not None and now - message.created_at < RESUME_WINDOW:
                self._interrupted.append(_Interrupted(message, crashed.get(message.id)))
        if runs or pending:
            log.info("recovered %d active runs and %d pending messages", len(runs), len(pending))

    async def prune_old(self) -> None:
        """Forget threads reset away (with their messages, runs, steps and tool call records),
        message links and adapter state untouched for ``retention_days``; 0 keeps everything."""
        if self.retention_days <= 0:
            return
        pruned = await self.retention.prune_before(self.clock() - self.retention_days * 86_400)
        if pruned.total:
            log.info(
                "retention (%d days): forgot %d threads, %d messages, %d runs, %d run steps, "
                "%d tool calls, %d message links, %d adapter states",
                self.retention_days,
                pruned.threads,
                pruned.messages,
                pruned.runs,
                pruned.run_steps,
                pruned.tool_calls,
                pruned.links,
                pruned.states,
            )

    async def resume(self, platform: str, make_port: PortMaker) -> int:
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
            self.queue.add(item.key, Turn(msg, port, m.id, resume_turn=item.crashed_run))
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
