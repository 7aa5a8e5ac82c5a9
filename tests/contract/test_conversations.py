"""ConversationStore contract: a conversation key points at one backend thread, or none."""

from storage.base import Storage
from storage.records import ThreadRef


async def test_unknown_conversation_has_no_thread(store: Storage) -> None:
    assert await store.get_thread("k") is None


async def test_set_thread_then_replace_it(store: Storage) -> None:
    await store.set_thread("k", ThreadRef("a", "chat"))
    assert await store.get_thread("k") == ThreadRef("a", "chat")
    await store.set_thread("k", ThreadRef("b", "assistants"))
    assert await store.get_thread("k") == ThreadRef("b", "assistants")


async def test_conversations_are_separate(store: Storage) -> None:
    await store.set_thread("slack:C1:1.2", ThreadRef("t1", "chat"))
    await store.set_thread("discord:G1:9", ThreadRef("t2", "responses"))
    assert await store.get_thread("slack:C1:1.2") == ThreadRef("t1", "chat")
    assert await store.get_thread("discord:G1:9") == ThreadRef("t2", "responses")


async def test_forget_thread(store: Storage) -> None:
    await store.set_thread("k", ThreadRef("a", "chat"))
    await store.set_thread("other", ThreadRef("b", "chat"))
    await store.forget_thread("k")
    assert await store.get_thread("k") is None
    assert await store.get_thread("other") == ThreadRef("b", "chat")
    await store.forget_thread("k")  # forgetting twice is harmless
    await store.forget_thread("never-set")
    await store.set_thread("k", ThreadRef("c", "chat"))  # and it can start again
    assert await store.get_thread("k") == ThreadRef("c", "chat")
