"""The assistant pane's thread context (the channel the user is viewing) survives a restart:
the store writes through to the engine's persisted adapter state (real SQLite)."""

from __future__ import annotations

from pathlib import Path

from bots.slack.assistant_pane import PaneContextStore
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.core import start_harness


async def test_pane_context_survives_a_restart(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    db = tmp_path / "pane.db"
    h = await start_harness(openai_fake, db, "chat")
    store = PaneContextStore(state=h.engine.state)
    await store.save(channel_id="D1", thread_ts="1.5", context={"channel_id": "C42"})
    assert await store.viewing_news("D1", "1.5") == "C42"
    await store.mark_told("D1", "1.5", "C42")
    await h.engine.close()

    h = await start_harness(openai_fake, db, "chat")
    try:
        fresh = PaneContextStore(state=h.engine.state)
        found = await fresh.find(channel_id="D1", thread_ts="1.5")
        assert found is not None and found.channel_id == "C42"
        assert await fresh.viewing_news("D1", "1.5") is None  # the model was already told
        await fresh.save(channel_id="D1", thread_ts="1.5", context={"channel_id": "C7"})
        assert await fresh.viewing_news("D1", "1.5") == "C7"
        assert await fresh.find(channel_id="D9", thread_ts="1.5") is None
    finally:
        await h.engine.close()
