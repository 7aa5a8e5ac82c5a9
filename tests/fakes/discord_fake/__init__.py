"""A fake Discord (REST + gateway) for offline tests of the real discord.py client."""

from tests.fakes.discord_fake.faults import Fault, Hold, Limit
from tests.fakes.discord_fake.interactions import FakeInteraction
from tests.fakes.discord_fake.server import DISCORD_LIKE_LIMITS, FakeDiscord, LoggedRequest

__all__ = [
    "DISCORD_LIKE_LIMITS",
    "FakeDiscord",
    "FakeInteraction",
    "Fault",
    "Hold",
    "Limit",
    "LoggedRequest",
]
