"""Unit tests for core.render.split: cut preferences, code fences, unicode, random inputs."""

from __future__ import annotations

import itertools
import random
import unicodedata

import pytest

from core.render.split import split_all, split_message, split_tail
from tests.harness.split_cases import build_reply, fence_events, rejoin, squash


def check_pieces(text: str, limit: int, *, balanced: bool = True) -> list[str]:
    pieces = split_all(text, limit)
    assert pieces, "no pieces"
    for piece in pieces:
        assert 0 < len(piece) <= limit
        if balanced:
            assert fence_events(piece)[0] is None, f"unbalanced fence in {piece!r}"
    assert squash(rejoin(pieces)) == squash(text)
    return pieces


def test_fits_unchanged() -> None:
    assert split_message("hello", 5) == ("hello", "")
    assert split_all("hello", 10) == ["hello"]
    assert split_tail("hello", 10) == ([], "hello")


def test_bad_limit() -> None:
    with pytest.raises(ValueError):
        split_message("abc", 0)


def test_paragraph_preferred_over_line_and_space() -> None:
    text = "a" * 50 + "\n\n" + "b" * 20 + "\n" + "c c c c c c c c c c"
    head, tail = split_message(text, 90)
    assert head == "a" * 50
    assert tail.startswith("b" * 20)


def test_line_preferred_over_space() -> None:
    text = "word " * 10 + "\n" + "word " * 10
    head, tail = split_message(text, 80)
    assert head == ("word " * 10).rstrip()
    assert tail == "word " * 10


def test_space_preferred_over_hard_cut() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    head, tail = split_message(text, 20)
    assert head == "alpha beta gamma"
    assert tail == "delta epsilon zeta eta theta"


def test_cut_not_in_first_part_of_window() -> None:
    # The paragraph break is too early: a later space is used rather than a tiny message.
    text = "ab\n\n" + "word " * 40
    head, _ = split_message(text, 100)
    assert len(head) > 60


def test_single_huge_line_hard_cut() -> None:
    text = "x" * 10_000
    pieces = split_all(text, 1000)
    assert pieces == ["x" * 1000] * 10


def test_never_splits_crlf() -> None:
    text = ("y" * 9 + "\r\n") * 50
    for limit in range(7, 40):
        pieces = split_all(text.replace("\r\n", "\r\n" + "z" * 30), limit)
        for a, b in itertools.pairwise(pieces):
            assert not (a.endswith("\r") and b.startswith("\n"))


def test_code_block_longer_than_several_messages() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step" for i in range(300))
    text = "Here:\n\n```python\n" + code + "\n```\n\nDone."
    pieces = check_pieces(text, 500)
    assert len(pieces) > 10
    for piece in pieces[1:-1]:
        assert piece.startswith("```python\n")
        assert piece.endswith("\n```")
    # Indentation inside code survives the cut.
    for piece in pieces[1:-1]:
        assert piece.split("\n")[1].startswith("    value_")


@pytest.mark.parametrize("limit", [2000, 12_000])
def test_long_reply_with_code_blocks(limit: int) -> None:
    text = build_reply(random.Random(7), 2000)
    assert len(text) > 3 * limit
    pieces = check_pieces(text, limit)
    # check_pieces' rejoin only glues reopened fences with the same marker and language.
    assert any(p.endswith("\n```") for p in pieces[:-1])


def test_split_all_equals_repeated_split_message() -> None:
    text = build_reply(random.Random(3), 400)
    expected: list[str] = []
    rest = text
    while rest.strip():
        head, rest = split_message(rest, 700)
        expected.append(head)
    assert split_all(text, 700) == expected


def test_tilde_fences_and_nested_markers() -> None:
    code = "\n".join(f"echo {i}\n```\nnot a closer for ~~~" for i in range(60))
    text = "Shell:\n~~~bash\n" + code + "\n~~~\nend"
    pieces = check_pieces(text, 300)
    for piece in pieces[1:-1]:
        assert piece.startswith("~~~bash\n")
        assert piece.endswith("\n~~~")


def test_four_backtick_fence_keeps_marker() -> None:
    inner = "\n".join(f"```\ninner {i}\n```" for i in range(40))
    text = "````markdown\n" + inner + "\n````"
    pieces = check_pieces(text, 200)
    for piece in pieces[1:]:
        assert piece.startswith("````markdown\n")


def test_original_closer_not_duplicated() -> None:
    code = "\n".join(f"row {i}" for i in range(20))
    text = "```\n" + code + "\n```\n" + "tail " * 5
    # A cut just before the closer must not leave an empty reopened block.
    for limit in range(40, len(text)):
        for piece in split_all(text, limit):
            assert "```\n```" not in piece


UNICODE_SAMPLES = [
    "👨‍👩‍👧‍👦" * 300,  # ZWJ family sequences
    "🇫🇷🇯🇵🇧🇷" * 300,  # flags: regional indicator pairs
    "👍🏽" * 400,  # skin tone modifiers
    "漢字かな交じり文" * 300,  # CJK, no spaces
    "e\u0301a\u0300o\u0302" * 300,  # combining marks
    "שלום עולם " * 200 + "مرحبا بالعالم " * 200,  # RTL with spaces
    "x\U0001f600" * 500,  # astral plane characters
]


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_unicode_never_broken(text: str) -> None:
    for limit in (97, 100, 101, 256):
        pieces = check_pieces(text, limit)
        for a, b in itertools.pairwise(pieces):
            first = b[0]
            assert unicodedata.category(first) not in ("Mn", "Me", "Mc")
            assert first != "\u200d" and not a.endswith("\u200d")
            assert not 0x1F3FB <= ord(first) <= 0x1F3FF
        # Flags stay paired.
        joined = "".join(pieces)
        if "🇫" in text:
            for piece in pieces:
                regional = [c for c in piece if 0x1F1E6 <= ord(c) <= 0x1F1FF]
                assert len(regional) % 2 == 0
        if " " not in text:
            assert joined == text


def random_text(rng: random.Random) -> str:
    tokens = [
        "word",
        "longerword",
        " ",
        " ",
        "\n",
        "\n\n",
        "\r\n",
        "é",
        "😀",
        "👩‍💻",
        "漢字",
        "x" * rng.randint(1, 200),
    ]
    out: list[str] = []
    for _ in range(rng.randint(1, 400)):
        r = rng.random()
        if r < 0.04:
            marker = rng.choice(["```", "~~~", "````"])
            lang = rng.choice(["", "python", "c++", "text"])
            body = "".join(rng.choice(tokens) for _ in range(rng.randint(0, 80)))
            body = body.replace("`", "").replace("~", "")
            # "after" keeps a block's closer from touching the next opener, which would make
            # rejoin() ambiguous (an original closer + opener look like an added pair).
            out.append(f"\n{marker}{lang}\n{body}\n{marker}\nafter\n")
        else:
            out.append(rng.choice(tokens))
    return "".join(out)


def test_random_inputs_property() -> None:
    rng = random.Random(20240601)
    for _ in range(300):
        text = random_text(rng)
        if not text.strip():
            continue
        limit = rng.choice([40, 57, 80, 150, 500, 2000])
        check_pieces(text, limit)
