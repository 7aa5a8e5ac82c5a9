"""Start-up against a server that can't serve the chosen backend: one line naming the setting
(:class:`SettingsProblem`, exit 2), never a traceback and never a failure on every message.
In-process (``build_engine`` raises) and as a real ``python -m bots console`` process."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import openai
import pytest

from core.bootstrap import build_engine, build_registry
from core.settings import SettingsProblem
from tests.fakes.openai_fake import FakeOpenAI, Fault
from tests.harness.core import make_settings
from tests.harness.processes import bot_env, spawn_console


async def start_problem(fake: FakeOpenAI, tmp_path: Path, backend: str, **extra: object) -> str:
    settings = make_settings(fake, tmp_path / "s.db", backend, **extra)
    with pytest.raises(SettingsProblem) as caught:
        await build_engine(settings, build_registry(settings))
    text = str(caught.value)
    assert "\n" not in text
    return text


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_assistants_without_the_assistants_api(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.quirks.no_assistants_api = True
    text = await start_problem(openai_fake, tmp_path, "assistants")
    assert text == (
        f"Invalid setting ASSISTANT_BACKEND: the model server at {openai_fake.base_url} has no "
        "Assistants API (GET /v1/assistants answered 404); use ASSISTANT_BACKEND=chat (any "
        "server) or responses"
    )
    assert not openai_fake.requests_to("/threads")


async def test_assistants_with_an_assistant_id_on_a_server_without_the_api(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.quirks.no_assistants_api = True
    text = await start_problem(openai_fake, tmp_path, "assistants", ASSISTANT_ID="asst_1")
    assert text.startswith("Invalid setting ASSISTANT_BACKEND:")
    assert "has no Assistants API" in text and "ASSISTANT_BACKEND=chat" in text


async def test_assistants_with_an_unknown_assistant_id(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    text = await start_problem(openai_fake, tmp_path, "assistants", ASSISTANT_ID="asst_nope")
    assert text == (
        f"Invalid setting ASSISTANT_ID: the model server at {openai_fake.base_url} has no "
        "assistant asst_nope"
    )


async def test_a_known_assistant_id_starts(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    async with openai.AsyncOpenAI(base_url=openai_fake.base_url, api_key="k") as client:
        assistant = await client.beta.assistants.create(model="fake-model")
    settings = make_settings(
        openai_fake, tmp_path / "s.db", "assistants", ASSISTANT_ID=assistant.id
    )
    engine = await build_engine(settings, build_registry(settings))
    await engine.close()


@pytest.mark.parametrize("backend", ["assistants", "responses"])
async def test_an_unreachable_server_is_one_line(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str
) -> None:
    url = closed_port_url()
    text = await start_problem(
        openai_fake, tmp_path, backend, OPENAI_BASE_URL=url, OPENAI_MAX_RETRIES=0
    )
    assert text.startswith(f"Invalid setting OPENAI_BASE_URL: the model server at {url} can't")
    assert "is it running?" in text


@pytest.mark.parametrize("backend", ["assistants", "responses"])
async def test_a_refused_key_is_one_line(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str
) -> None:
    openai_fake.api_key = "the-right-key"
    text = await start_problem(openai_fake, tmp_path, backend)
    assert text.startswith("Invalid setting OPENAI_API_KEY: the model server at")
    assert "refused it (401" in text


async def test_responses_when_the_server_neither_has_conversations_nor_chains(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.quirks.no_conversations_api = True
    openai_fake.quirks.no_stored_responses = True
    text = await start_problem(openai_fake, tmp_path, "responses")
    assert text.startswith(
        f"Invalid setting ASSISTANT_BACKEND: the model server at {openai_fake.base_url} has no "
        "Conversations API and does not chain responses with previous_response_id "
        "(previous_response_id answered 404: "
    )
    assert text.endswith("; use ASSISTANT_BACKEND=chat")


async def test_responses_when_the_server_has_no_responses_api(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.quirks.no_conversations_api = True
    openai_fake.inject(Fault.status(404), path="/responses", method="POST")
    text = await start_problem(openai_fake, tmp_path, "responses")
    assert text == (
        f"Invalid setting ASSISTANT_BACKEND: the model server at {openai_fake.base_url} has no "
        "Responses API (POST /responses answered 404); use ASSISTANT_BACKEND=chat"
    )


async def test_responses_with_an_unknown_model(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.quirks.no_conversations_api = True
    message = "The model `nope` does not exist or you do not have access to it."
    openai_fake.inject(
        Fault.status(404, message=message, code="model_not_found"),
        path="/responses",
        method="POST",
    )
    text = await start_problem(openai_fake, tmp_path, "responses", ASSISTANT_MODEL="nope")
    assert text.startswith("Invalid setting ASSISTANT_MODEL: the model server at")
    assert "has no model 'nope'" in text


async def test_responses_with_conversations_leaves_no_probe_behind(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = make_settings(openai_fake, tmp_path / "s.db", "responses")
    engine = await build_engine(settings, build_registry(settings))
    await engine.close()
    assert len(openai_fake.requests_to("/conversations", "POST")) == 1
    assert openai_fake.conversations_state.conversations == {}  # the probe was deleted
    assert not openai_fake.requests_to("/responses")  # no generation at start-up


@pytest.mark.process
@pytest.mark.parametrize(
    ("backend", "api"), [("assistants", "Assistants"), ("responses", "Conversations")]
)
async def test_process_exits_2_with_one_line(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str, api: str
) -> None:
    openai_fake.quirks.no_assistants_api = True
    openai_fake.quirks.no_conversations_api = True
    openai_fake.quirks.no_stored_responses = True
    env = bot_env(openai_fake, tmp_path / "p.db", backend)
    del env["LOG_LEVEL"]  # the default level: what a new user sees
    proc = await spawn_console(env, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(b"hello\n"), 60)
    assert proc.returncode == 2, err.decode()
    assert "Traceback" not in err.decode()
    (line,) = err.decode().strip().splitlines()
    assert line.startswith("Invalid setting ASSISTANT_BACKEND: the model server at")
    assert f"has no {api} API" in line and "ASSISTANT_BACKEND=chat" in line
    assert out == b""


@pytest.mark.process
async def test_process_with_an_unreachable_server_exits_2(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        env = bot_env(fake, tmp_path / "p.db", "assistants")
    env.update(OPENAI_BASE_URL=closed_port_url(), OPENAI_MAX_RETRIES="0")
    proc = await spawn_console(env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(b""), 60)
    assert proc.returncode == 2
    assert "Traceback" not in err.decode()
    (line,) = err.decode().strip().splitlines()
    assert line.startswith("Invalid setting OPENAI_BASE_URL: the model server at")
