"""AdapterStateStore contract: JSON state per namespace and key, and message -> conversation."""

from typing import Any

import pytest

from storage.base import Storage

JSON_VALUES: list[Any] = [
    {"channel_id": "C1", "thread_ts": "1.2", "nested": {"list": [1, 2.5, None, True]}},
    ["a", 1, {"b": False}],
    "just text — ünïcödé 🧵",
    42,
    1.5,
    True,
    [],
    {},
]


@pytest.mark.parametrize("value", JSON_VALUES)
async def test_state_round_trips_json(store: Storage, value: Any) -> None:
    await store.put_state("slack.pane", "D1:1.2", value)
    assert await store.get_state("slack.pane", "D1:1.2") == value


async def test_state_is_overwritten_and_namespaced(store: Storage) -> None:
    assert await store.get_state("slack.pane", "D1:1.2") is None
    await store.put_state("slack.pane", "D1:1.2", {"channel_id": "C1"})
    await store.put_state("slack.pane", "D1:1.2", {"channel_id": "C2"})
    assert await store.get_state("slack.pane", "D1:1.2") == {"channel_id": "C2"}
    assert await store.get_state("other", "D1:1.2") is None
    assert await store.get_state("slack.pane", "D1:9.9") is None


async def test_links_map_a_platform_message_to_its_conversation(store: Storage) -> None:
    assert await store.conversation_for_message("discord", "m1") is None
    await store.link_message("discord", "m1", "k2")
    assert await store.conversation_for_message("discord", "m1") == "k2"
    assert await store.conversation_for_message("slack", "m1") is None  # per platform


async def test_links_overwrite(store: Storage) -> None:
    await store.link_message("slack", "1.2", "k1")
    await store.link_message("slack", "1.2", "k2")
    assert await store.conversation_for_message("slack", "1.2") == "k2"
