"""Which Slack events the bot answers, mention handling, reset words and retry headers."""

from __future__ import annotations

import pytest

from bots.slack.filters import (
    channel_id_from,
    defuse_broadcasts,
    ignore_reason,
    is_dm,
    is_reset,
    mentions,
    strip_mention,
    user_id_from,
)

BOT = "UBOT"


def test_plain_user_message_is_answered() -> None:
    assert ignore_reason({"user": "U1", "text": "hi"}, BOT) is None
    assert ignore_reason({"user": "U1", "subtype": "file_share"}, BOT) is None


@pytest.mark.parametrize(
    "event",
    [
        {"user": "UBOT", "bot_id": "B1", "text": "echo"},  # own echo
        {"user": "U9", "bot_id": "B2"},  # another bot
        {"subtype": "bot_message", "bot_id": "B2"},
        {"subtype": "message_changed", "message": {"user": "U1"}},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join", "user": "U1"},
        {"user": "UBOT"},
        {"text": "no user"},
    ],
)
def test_ignored_events(event: dict[str, object]) -> None:
    assert ignore_reason(event, BOT) is not None


def test_mentions_and_stripping() -> None:
    assert mentions("hey <@UBOT> there", BOT)
    assert mentions("<@UBOT|threadbridge> x", BOT)
    assert not mentions("hey <@U1>", BOT)
    assert not mentions("hey", None)
    assert strip_mention("<@UBOT>  what is up", BOT) == "what is up"
    code = "<@UBOT> fix this:\n```\nif x:\n    return  1\n```"  # indentation survives
    assert strip_mention(code, BOT) == code.removeprefix("<@UBOT> ")
    assert strip_mention("ask <@UBOT|tb> now", BOT) == "ask now"
    assert strip_mention(" hi ", None) == "hi"


def test_reset_words() -> None:
    assert is_reset("reset") and is_reset(" /Reset ") and not is_reset("reset please")


def test_is_dm() -> None:
    assert is_dm({"channel_type": "im", "channel": "D1"})
    assert not is_dm({"channel_type": "channel", "channel": "C1"})


def test_ids_from_text() -> None:
    assert user_id_from("<@U123|ada>") == "U123"
    assert user_id_from("U123") == "U123"
    assert user_id_from("ada") is None
    assert channel_id_from("<#C42|general>") == "C42"
    assert channel_id_from("C42") == "C42"
    assert channel_id_from("#general") is None


def test_broadcasts_in_model_text_are_defused() -> None:
    text = (
        "Hi <!channel> and <!here|here>, <!EVERYONE>; ping <!subteam^S0123|@devs> or <!subteam^S9>"
    )
    out = defuse_broadcasts(text)
    assert "<!" not in out
    assert out == (
        "Hi @\u2060channel and @\u2060here, @\u2060everyone; ping @\u2060devs or @\u2060group"
    )
    assert defuse_broadcasts("see <#C1> and <@U1>") == "see <#C1> and <@U1>"
    assert defuse_broadcasts("so far <!chan", final=False) == "so far "
    assert defuse_broadcasts("<!chan", final=False) == "<!chan"
    assert defuse_broadcasts("so far <!chan") == "so far <!chan"  # the final text is shown whole
