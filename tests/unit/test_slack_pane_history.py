"""Pure helpers of the Slack adapter: the pane's thread-context store and titles, and the
missed-history text for a mention mid-thread."""

from __future__ import annotations

from bots.slack.assistant_pane import PaneContextStore, title_from, with_viewing
from bots.slack.history import format_history, with_history


async def test_thread_context_store_is_bounded_and_skips_empty_contexts() -> None:
    store = PaneContextStore(capacity=2)
    await store.save(channel_id="D1", thread_ts="1", context={"channel_id": "C1"})
    await store.save(channel_id="D1", thread_ts="2", context={})
    await store.save(channel_id="D1", thread_ts="3", context={"channel_id": "C3"})
    assert await store.find(channel_id="D1", thread_ts="1") is None  # evicted
    assert await store.find(channel_id="D1", thread_ts="2") is None  # no channel
    found = await store.find(channel_id="D1", thread_ts="3")
    assert found is not None and found.channel_id == "C3"


async def test_viewed_channel_is_news_once_per_change_and_bounded() -> None:
    store = PaneContextStore(capacity=2)
    assert await store.viewing_news("D1", "1") is None
    await store.save(channel_id="D1", thread_ts="1", context={"channel_id": "C1"})
    assert await store.viewing_news("D1", "1") == "C1"
    await store.mark_told("D1", "1", "C1")
    assert await store.viewing_news("D1", "1") is None
    await store.save(channel_id="D1", thread_ts="1", context={"channel_id": "C2"})
    assert await store.viewing_news("D1", "1") == "C2"
    for ts in ("2", "3"):
        await store.mark_told("D1", ts, "C9")
    assert len(store._told) == 2 and ("D1", "1") not in store._told
    assert with_viewing("C1", "hi") == "(The user is viewing <#C1>.)\n\nhi"


def test_title_from_first_line_shortened() -> None:
    assert title_from("Plan my week\nwith details") == "Plan my week"
    assert title_from("   ") == "New chat"
    long = title_from("x" * 200)
    assert len(long) == 80 and long.endswith("…")


def test_history_keeps_earlier_human_messages_only() -> None:
    messages = [
        {"ts": "1.0", "user": "U1", "text": "root"},
        {"ts": "2.0", "user": "U2", "text": "reply"},
        {"ts": "2.5", "user": "UB", "bot_id": "B1", "text": "bot says"},
        {"ts": "2.7", "user": "U2", "subtype": "channel_join", "text": "joined"},
        {"ts": "3.0", "user": "U1", "text": "the mention itself"},
    ]
    assert format_history(messages, "3.0") == "<@U1>: root\n<@U2>: reply"
    assert with_history("", "q") == "q"
    assert with_history("<@U1>: root", "q").endswith("Now I'm asking you: q")


def test_history_is_capped_keeping_the_newest() -> None:
    messages = [{"ts": f"{i}.0", "user": "U1", "text": "y" * 1000} for i in range(1, 20)]
    text = format_history(messages, "99.0")
    assert len(text) <= 6000 and text.count("<@U1>") == 5
