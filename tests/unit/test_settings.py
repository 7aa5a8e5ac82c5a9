"""Settings: names, defaults, and one clear line with exit code 2 for bad values."""

import subprocess
import sys
from pathlib import Path

import pytest

from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    s = Settings()
    assert s.assistant_backend == "chat"
    assert s.database_url == "sqlite:///threadbridge.db"
    assert s.sqlite_path == "threadbridge.db"
    assert SlackSettings().api_url == "https://slack.com/api/"
    assert not SlackSettings().configured and not DiscordSettings().configured


def test_reads_exact_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "OPENAI_API_KEY": "k",
        "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        "ASSISTANT_BACKEND": "assistants",
        "ASSISTANT_MODEL": "m",
        "ASSISTANT_NAME": "n",
        "ASSISTANT_INSTRUCTIONS": "be brief",
        "ASSISTANT_TEMPERATURE": "0.5",
        "ASSISTANT_ID": "asst_1",
        "CONTEXT_WINDOW_TOKENS": "8000",
        "MAX_OUTPUT_TOKENS": "500",
        "DATABASE_URL": "sqlite:///x/y.db",
        "TOOLS_MODULES": "a.b, c",
        "LOG_LEVEL": "debug",
        "DISCORD_GUILD_IDS": "1, 2",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.openai_base_url == "http://127.0.0.1:1/v1"
    assert s.assistant_backend == "assistants"
    assert s.assistant_temperature == 0.5
    assert s.assistant_id == "asst_1"
    assert (s.context_window_tokens, s.max_output_tokens) == (8000, 500)
    assert s.sqlite_path == "x/y.db"
    assert s.tools_module_list == ["a.b", "c"]
    assert s.log_level == "DEBUG"
    assert DiscordSettings().guild_id_list == [1, 2]


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ASSISTANT_MODEL=from-dotenv\nASSISTANT_TEMPERATURE=\n")
    s = Settings()
    assert s.assistant_model == "from-dotenv"
    assert s.assistant_temperature is None


def test_invalid_setting_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_BACKEND", "telepathy")
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Invalid setting ASSISTANT_BACKEND")
    assert "\n" not in err


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    for cls in (Settings, SlackSettings, DiscordSettings):
        for field in cls.model_fields.values():
            assert f"\n{field.alias}=" in example, field.alias


def _run_bots(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in __import__("os").environ.items()
        if not k.startswith(
            ("OPENAI_", "ASSISTANT_", "SLACK_", "DISCORD_", "DATABASE_", "TOOLS_", "LOG_")
        )
    }
    clean.update(env)
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.process
def test_process_bad_setting_no_traceback(tmp_path: Path) -> None:
    proc = _run_bots({"CONTEXT_WINDOW_TOKENS": "lots"}, tmp_path, "console")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("Invalid setting CONTEXT_WINDOW_TOKENS")
    assert "Traceback" not in proc.stderr


@pytest.mark.process
def test_process_without_platforms_says_what_to_set(tmp_path: Path) -> None:
    proc = _run_bots({}, tmp_path)
    assert proc.returncode == 2
    assert "SLACK_BOT_TOKEN" in proc.stderr and "DISCORD_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.process
def test_process_missing_api_key(tmp_path: Path) -> None:
    proc = _run_bots({}, tmp_path, "console")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "Invalid setting OPENAI_API_KEY: is required (or set OPENAI_BASE_URL)"
    )


@pytest.mark.process
def test_process_bad_tools_module(tmp_path: Path) -> None:
    proc = _run_bots(
        {"OPENAI_API_KEY": "k", "TOOLS_MODULES": "no_such_module_xyz"}, tmp_path, "console"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("Invalid setting TOOLS_MODULES")
    assert "Traceback" not in proc.stderr


def test_process_bad_adapter_setting_is_one_line(tmp_path: Path) -> None:
    """Adapter settings live beside their adapters and fail the same way as the core's."""
    proc = _run_bots(
        {"OPENAI_API_KEY": "k", "DISCORD_TOKEN": "t", "DISCORD_GUILD_IDS": "12,abc"}, tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("Invalid setting DISCORD_GUILD_IDS: ")
    assert "Traceback" not in proc.stderr and "\n" not in proc.stderr.strip()


def test_process_user_tool_clashing_with_a_builtin_names_both(tmp_path: Path) -> None:
    (tmp_path / "clash_tools.py").write_text(
        "from core.tools import tool\n\n\n@tool\ndef current_time() -> str:\n"
        '    """Mine."""\n    return "mine"\n'
    )
    proc = _run_bots({"OPENAI_API_KEY": "k", "TOOLS_MODULES": "clash_tools"}, tmp_path, "console")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert line.startswith("Invalid setting TOOLS_MODULES: tool 'current_time' of ")
    assert "clash_tools.current_time" in line and "core.tools.builtin.current_time" in line


def test_retention_days(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().retention_days == 90
    monkeypatch.setenv("RETENTION_DAYS", "0")
    assert Settings().retention_days == 0  # keeps everything
    monkeypatch.setenv("RETENTION_DAYS", "-1")
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Invalid setting RETENTION_DAYS") and "\n" not in err
