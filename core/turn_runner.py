"""One turn: the conversation's assistant Thread, the run streamed through the backend and
rendered through the platform's port, tools dispatched through the registry (each call
recorded as started, then finished, so a crash mid-tool is known after the restart), and the
outcome recorded before the last text is shown. A turn resumed after such a crash first tells
the user that the earlier attempt may have happened."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from core.backends.base import UNAVAILABLE, Backend, RunRequest
from core.events import Finished, Progress, TextDelta, ToolCallsRequired, Usage
from core.intake import Turn
from core.logs import new_ref
from core.port import Markup, ReplyPort
from core.render.renderer import StreamRenderer
from core.tools.registry import ToolContext, ToolRegistry
from storage.base import ConversationStore, IntakeStore, ToolCallStore
from storage.records import INTERRUPTED, InboxStatus, ThreadRef, ToolCallRecord

log = logging.getLogger(__name__)

EMPTY_ANSWER = "The assistant returned an empty reply."
RECORD_RETRY_LIMIT = 2.0
"""The longest pause (s) between tries at recording an outcome storage refused."""


def token_figures(usage: Usage) -> str:
    """``12+34`` as the server counted; ``~12+~34`` when they are our estimates."""
    mark = "~" if usage.estimated else ""
    return f"{mark}{usage.prompt_tokens}+{mark}{usage.completion_tokens}"


def restart_note(names: list[str], markup: Markup) -> str:
    """What a resumed reply starts with when the crash came while tools ran."""
    shown = ", ".join(markup.code(n) for n in dict.fromkeys(names))
    it = "it" if len(set(names)) == 1 else "they"
    return markup.italic(
        f"(I was restarted while running {shown}; {it} may already have happened.)"
    )


def tool_status(names: list[str], markup: Markup) -> str:
    shown = ", ".join(markup.code(n) for n in dict.fromkeys(names))
    return f"Running {shown}…"


class TurnRunner:
    def __init__(
        self,
        conversations: ConversationStore,
        inbox: IntakeStore,
        backend: Backend,
        registry: ToolRegistry,
        tool_calls: ToolCallStore,
    ) -> None:
        self.conversations = conversations
        self.inbox = inbox
        self.backend = backend
        self.registry = registry
        self._unrecorded: set[asyncio.Task[None]] = set()
        """Outcomes storage refused, being retried."""
        self.tool_calls = tool_calls

    async def __call__(self, conv: str, waiting: Turn) -> None:
        cid = new_ref()
        port = await waiting.port if isinstance(waiting.port, asyncio.Future) else waiting.port
        if port is None:  # a resumed message whose place to answer is gone
            return
        renderer = StreamRenderer(port)
        if waiting.notice is not None:
            await renderer.close(waiting.notice)
            return
        started = time.monotonic()
        final = Finished("failed", error=UNAVAILABLE)
        try:
            await _quietly(port.show_thinking(), "show_thinking", cid)
            final = await self._run(conv, waiting, port, renderer, cid)
        except asyncio.CancelledError:
            final = Finished("cancelled", error="The reply was interrupted by a shutdown.")
            await asyncio.shield(self._finish(waiting, port, renderer, final, cid))
            raise
        except Exception:
            log.exception("turn in %s failed [%s]", waiting.msg.key.platform, cid)
        # The outcome is recorded before the last text is shown, and showing it is shielded:
        # a stop or crash from here on can't get the message answered a second time.
        await asyncio.shield(self._finish(waiting, port, renderer, final, cid))
        log.info(
            "turn %s status=%s tokens=%s chars=%d ms=%d [%s]",
            waiting.msg.key.platform,
            final.status,
            token_figures(final.usage),
            len(renderer.text),
            (time.monotonic() - started) * 1000,
            cid,
        )

    async def tell(self, port: ReplyPort, text: str) -> None:
        """A short reply right away, not a run (e.g. a refusal)."""
        await StreamRenderer(port).close(text)

    async def thread_for(self, conv: str) -> str:
        ref = await self.conversations.get_thread(conv)
        if ref is not None and ref.backend == self.backend.name:
            return ref.thread_id
        thread_id = await self.backend.new_thread()
        await self.conversations.set_thread(conv, ThreadRef(thread_id, self.backend.name))
        return thread_id

    async def _run(
        self, conv: str, turn: Turn, port: ReplyPort, renderer: StreamRenderer, cid: str
    ) -> Finished:
        msg = turn.msg
        platform = msg.key.platform
        request = RunRequest(
            thread_id=await self.thread_for(conv),
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
        if turn.resume_turn is not None:
            calls = await self.tool_calls.tool_calls(turn.resume_turn)
            unfinished = [c.name for c in calls if not c.finished]
            if unfinished:
                renderer.append(restart_note(unfinished, port.markup))
                separate = True
                request.cut_off = unfinished
        async for event in self.backend.run(request):
            if isinstance(event, TextDelta):
                if separate and renderer.text:
                    renderer.append("\n\n")
                separate = False
                renderer.append(event.delta)
            elif isinstance(event, ToolCallsRequired):
                renderer.set_status(tool_status([c.name for c in event.calls], port.markup))
                log.info("tools %s [%s]", [c.name for c in event.calls], cid)
                started = [ToolCallRecord(c.id, c.name) for c in event.calls]
                await self.tool_calls.start_tool_calls(event.run_id, started)
                event.outputs = await self.registry.invoke_all(event.calls, ctx)
                await self.tool_calls.finish_tool_calls(event.run_id, [c.id for c in event.calls])
            elif isinstance(event, Progress):
                separate = separate or event.kind == "message_started"
            elif isinstance(event, Finished):
                final = event
        return final

    async def _finish(
        self, turn: Turn, port: ReplyPort, renderer: StreamRenderer, final: Finished, cid: str
    ) -> None:
        if turn.inbox_id is not None:
            await self._record(turn.inbox_id, final.status, cid)
        error = final.error
        if error is None and not renderer.text.strip():
            error = EMPTY_ANSWER
        if error is not None:
            error = f"{error} (ref {cid})"
            if await _quietly(port.show_error(error), "show_error", cid):
                error = None
        await renderer.close(error)
        if not renderer.landed and turn.inbox_id is not None:
            # the user never saw the end of this reply: it must not count as answered
            log.warning("the final text could not be shown; marked interrupted [%s]", cid)
            await self._record(turn.inbox_id, INTERRUPTED, cid)

    async def _record(self, inbox_id: int, status: InboxStatus, cid: str) -> None:
        """Record a message's outcome before its last text is shown. If storage fails right
        now, the reply is shown anyway and the record is retried in the background until it
        lands (:meth:`flush` at shutdown): otherwise a restart would answer it again."""
        try:
            await self.inbox.close_inbox(inbox_id, status)
        except Exception:
            log.warning("recording a reply's outcome failed; retrying [%s]", cid, exc_info=True)
            task = asyncio.create_task(self._record_later(inbox_id, status, cid))
            self._unrecorded.add(task)
            task.add_done_callback(self._unrecorded.discard)

    async def _record_later(self, inbox_id: int, status: InboxStatus, cid: str) -> None:
        delay = 0.1
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_LIMIT)
            try:
                await self.inbox.close_inbox(inbox_id, status)
            except Exception:
                continue
            log.info("a reply's outcome is recorded after all [%s]", cid)
            return

    async def flush(self, within: float) -> None:
        """Give outcomes still waiting for storage ``within`` seconds more (at shutdown)."""
        pending = set(self._unrecorded)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=within)
        for task in late:
            task.cancel()
        if late:
            log.error("%d replies' outcomes could not be recorded", len(late))


async def _quietly(call: Any, what: str, cid: str) -> Any:
    """Await a cosmetic port call; a platform hiccup there must not fail the turn."""
    try:
        return await call
    except Exception:
        log.warning("port.%s failed [%s]", what, cid, exc_info=True)
        return None
