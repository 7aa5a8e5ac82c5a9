"""A stateful fake of Slack (Web API, file uploads, Socket Mode, signed Events API delivery)
for offline tests that drive the real slack_sdk and Bolt over real HTTP and WebSocket."""

from tests.fakes.slack_fake.delivery import Delivery, HttpDelivery, SocketDelivery
from tests.fakes.slack_fake.faults import SLACK_CHANNEL_LIMITS, SLACK_TIERS, Fault, RateLimit
from tests.fakes.slack_fake.server import ApiRequest, FakeSlack, UserPost
from tests.fakes.slack_fake.state import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    MARKDOWN_LIMIT,
    TEAM_ID,
    Channel,
    Message,
    User,
    Workspace,
)

__all__ = [
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "MARKDOWN_LIMIT",
    "SLACK_CHANNEL_LIMITS",
    "SLACK_TIERS",
    "TEAM_ID",
    "ApiRequest",
    "Channel",
    "Delivery",
    "FakeSlack",
    "Fault",
    "HttpDelivery",
    "Message",
    "RateLimit",
    "SocketDelivery",
    "User",
    "UserPost",
    "Workspace",
]
