"""Start-up of ``python -m bots discord`` as a real process against the fake Discord:
a missing Message Content intent (close code 4014) prints one clear line and exits 2."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.discord_fake import FakeDiscord

REPO = Path(__file__).resolve().parents[2]


async def test_4014_prints_one_clear_line_and_exits_2(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.gateway.granted_privileged = False
        env = {
            **os.environ,
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": str(fake.gateway_url),
            "DISCORD_GUILD_IDS": fake.guild["id"],
            "SLACK_BOT_TOKEN": "",
            "LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "discord",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await proc.communicate()
        assert proc.returncode == 2, err.decode()
        lines = [ln for ln in err.decode().splitlines() if "MESSAGE CONTENT" in ln]
        assert len(lines) == 1 and "Developer Portal" in lines[0]
        assert "Traceback" not in err.decode()
        assert any(r.path == "/gw" for r in fake.requests)
