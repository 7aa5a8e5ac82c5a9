"""The run engine: what adapters talk to. It puts together the intake (dedupe, the inbox, crash
recovery and resume: :mod:`core.intake`), ordered turns per conversation
(:mod:`core.turns`), one turn's run (:mod:`core.turn_runner`) and the small adapter state
(:mod:`core.adapter_state`, as ``engine.state``).

- A user message is stored (inbox) before its run starts; duplicates (by event id) are dropped.
- Per conversation, turns run strictly in order; different conversations run concurrently.
- At start-up, runs left active by a crash are closed through the backend, and adapters can
  have the messages they left unanswered answered (``resume_interrupted``).
"""

from __future__ import annotations

import asyncio

from core.adapter_state import AdapterState
from core.backends.base import Backend
from core.intake import Intake, PortMaker, Turn
from core.keys import ConversationKey
from core.messages import IncomingMessage
from core.port import ReplyPort
from core.quotas import NewConversations
from core.settings import Settings
from core.tools.registry import ToolRegistry
from core.turn_runner import TurnRunner
from core.turns import TurnQueue
from storage.base import Storage


class Engine:
    def __init__(
        self, settings: Settings, storage: Storage, backend: Backend, registry: ToolRegistry
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.backend = backend
        self.registry = registry
        self.state = AdapterState(
            storage,
            storage,
            settings.dedupe_ttl_seconds,
            NewConversations(settings.new_conversations_per_user_per_hour),
        )
        self.turns = TurnRunner(storage, storage, backend, registry, storage)
        self._queue: TurnQueue[Turn] = TurnQueue(
            self.turns, storage.forget_thread, settings.max_concurrent_runs
        )
        self.intake = Intake(
            storage,
            storage,
            backend,
            self.state,
            self._queue,
            max_input_chars=settings.max_input_chars,
            max_queued=settings.max_queued_per_conversation,
            tell=self.turns.tell,
            retention=storage,
            retention_days=settings.retention_days,
        )

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        await self.backend.start()
        await self.intake.recover()

    async def close(self, grace: float = 0.0) -> None:
        """Stop: turns still running after ``grace`` seconds are cancelled, and their users
        are told the reply was interrupted."""
        await self._queue.close(grace)
        await self.turns.flush(within=max(grace, 1.0))
        await self.backend.close()
        await self.storage.close()

    async def wait_idle(self) -> None:
        """Wait until every queued turn has finished."""
        await self._queue.wait_idle()

    # --- what adapters call -----------------------------------------------------------
    async def submit(self, msg: IncomingMessage, port: ReplyPort) -> bool:
        """Store and queue a message; the reply streams through ``port`` in the background.

        Returns False for a duplicate delivery (same platform event id seen before).
        """
        if self._queue.closed:
            raise RuntimeError("engine is closed")
        return await self.intake.take(msg, port)

    async def resume_interrupted(self, platform: str, make_port: PortMaker) -> int:
        """Answer this platform's messages that a crash left unanswered (see
        :meth:`core.intake.Intake.resume`); returns how many were queued."""
        return await self.intake.resume(platform, make_port)

    def queue_reset(self, key: ConversationKey) -> asyncio.Future[None]:
        """Queue a fresh assistant thread for ``key`` now, synchronously: turns already queued
        finish on the old thread, every message submitted after this call uses the new one.
        The future resolves once the reset is done."""
        return self._queue.add_reset(key)

    async def reset(self, key: ConversationKey) -> None:
        """Start a fresh assistant thread for ``key``, after any turn already queued."""
        await self.queue_reset(key)

    async def has_conversation(self, key: ConversationKey) -> bool:
        conv = key.as_str()
        return conv in self._queue or await self.storage.get_thread(conv) is not None
