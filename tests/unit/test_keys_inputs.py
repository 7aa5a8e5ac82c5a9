"""Conversation keys and input cleaning: pure logic."""

import pytest

from core.inputs import EMPTY_REPLY, clean_text, input_problem
from core.keys import ConversationKey


def test_key_round_trips_through_its_string_form() -> None:
    for key in (
        ConversationKey("slack", "T1", "C1", "1700000000.000100"),
        ConversationKey("discord", "G1", "123"),
        ConversationKey("console", "", "default"),
    ):
        assert ConversationKey.parse(key.as_str()) == key


def test_keys_differ_by_thread() -> None:
    a = ConversationKey("slack", "T1", "C1", "1.1")
    b = ConversationKey("slack", "T1", "C1", "2.2")
    assert a.as_str() != b.as_str()
    assert ConversationKey("slack", "T1", "C1").thread is None


@pytest.mark.parametrize("bad", ["a|b", ""])
def test_key_rejects_separator_and_empty_channel(bad: str) -> None:
    with pytest.raises(ValueError):
        ConversationKey("slack", "T", bad)


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        ConversationKey.parse("nope")


def test_clean_text_drops_controls_and_lone_surrogates() -> None:
    assert clean_text("  hi\x00\x07 there\r\n ") == "hi there"
    assert clean_text("a\ud800b") == "a?b"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert clean_text("tab\there\nline") == "tab\there\nline"
    assert clean_text("👍🏽 日本語 مرحبا") == "👍🏽 日本語 مرحبا"


def test_input_problem() -> None:
    assert input_problem("", 10) == EMPTY_REPLY
    assert input_problem("   \n", 10) == EMPTY_REPLY
    assert input_problem("\u200b\u200d\ufeff\u200e \u2060", 10) == EMPTY_REPLY  # zero-width only
    assert input_problem("a\u200b", 10) is None
    assert input_problem("ok", 10) is None
    long = input_problem("x" * 11, 10)
    assert long is not None and "11 characters" in long and "10" in long
