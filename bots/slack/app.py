"""Building the Bolt ``AsyncApp``: the assistant pane with our thread-context store, the event
listeners and the /reset command, on the web client from :mod:`bots.slack.client`.

Bolt switches itself to OAuth installation mode (tokens looked up per workspace in an
installation store, our bot token unused, every event failing authorization) whenever
SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are both in the environment, and has no setting to
turn that off. Threadbridge is a single-workspace app on SLACK_BOT_TOKEN, so start-up refuses
with one clear line instead (:func:`check_no_oauth_env`)."""

from __future__ import annotations

import logging
import os
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots.common.observer import Observer, ignore
from bots.errors import StartupError
from bots.slack.assistant_pane import PaneContextStore
from bots.slack.intake import RESET_ELSEWHERE, RESET_REPLY, SlackIntake
from bots.slack.pacing import SlackPacing
from bots.slack.settings import SlackSettings
from core.engine import Engine

log = logging.getLogger(__name__)
bolt_log = logging.getLogger("slack_bolt.AsyncApp")

OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
OAUTH_ENV_PROBLEM = (
    "Unset SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: with both set, Slack Bolt switches to "
    "OAuth installation mode, but Threadbridge runs in one workspace with SLACK_BOT_TOKEN"
)


def check_no_oauth_env() -> None:
    """Refuse the environment in which Bolt would switch to OAuth installation mode (both
    variables present, even empty: the same test Bolt makes)."""
    if all(os.environ.get(name) is not None for name in OAUTH_ENV):
        raise StartupError(OAUTH_ENV_PROBLEM)


class _TokenSkippedFilter(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and, since we hand it a ready
    client, warns on every start that the token is unused. It is the same token: drop that."""

    text = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.text


def prime_authorization(app: AsyncApp, auth_test: Any) -> None:
    """Give Bolt's single-team authorization the ``auth.test`` answer start-up already has:
    otherwise every event that arrives before its first own call answers makes another call
    (82–200 of them when 100 mentions arrive at once)."""
    for middleware in app._async_middleware_list:
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            middleware.auth_test_result = auth_test


def build_app(
    settings: SlackSettings,
    engine: Engine,
    client: AsyncWebClient,
    *,
    socket_mode: bool,
    pacing: SlackPacing | None = None,
    stream: bool = True,
    observe: Observer = ignore,
) -> tuple[AsyncApp, SlackIntake]:
    check_no_oauth_env()
    if not any(isinstance(f, _TokenSkippedFilter) for f in bolt_log.filters):
        bolt_log.addFilter(_TokenSkippedFilter())
    app = AsyncApp(
        name="threadbridge",
        logger=bolt_log,
        client=client,
        signing_secret=settings.signing_secret or "",
        request_verification_enabled=not socket_mode,
        process_before_response=False,
    )
    if app.oauth_flow is not None:  # should Bolt find another way into OAuth mode
        raise StartupError(OAUTH_ENV_PROBLEM)
    contexts = PaneContextStore(state=engine.state)
    handlers = SlackIntake(
        settings,
        engine,
        client,
        pacing or SlackPacing(),
        contexts=contexts,
        stream=stream,
        observe=observe,
    )
    app.assistant(pane_listeners(handlers, contexts))
    add_listeners(app, handlers)
    return app, handlers


def pane_listeners(handlers: SlackIntake, contexts: PaneContextStore) -> AsyncAssistant:
    """Bolt's assistant-pane middleware, with our thread-context store, calling the intake."""
    assistant = AsyncAssistant(thread_context_store=contexts)

    @assistant.thread_started
    async def pane_started(body: dict[str, Any], set_suggested_prompts: Any) -> None:
        with handlers.counted(body):
            await handlers.on_pane_started(body, set_suggested_prompts)

    @assistant.thread_context_changed
    async def pane_context_changed(body: dict[str, Any]) -> None:
        with handlers.counted(body):
            await handlers.on_pane_context_changed(body)

    @assistant.user_message
    async def pane_message(
        body: dict[str, Any], context: AsyncBoltContext, set_status: Any, set_title: Any
    ) -> None:
        with handlers.counted(body):
            await handlers.on_pane_message(body, context.bot_user_id, set_status, set_title)

    return assistant


def add_listeners(app: AsyncApp, handlers: SlackIntake) -> None:
    """Mentions, messages and ``/reset``, each handed to the intake and observed when done."""

    @app.event("app_mention")
    async def mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        with handlers.counted(body):
            await handlers.on_mention(body, context.bot_user_id)

    @app.event("message")
    async def message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        with handlers.counted(body):
            await handlers.on_message(body, context.bot_user_id)

    @app.command("/reset")
    async def reset_command(ack: Any, command: dict[str, Any]) -> None:
        with handlers.counted(command):
            key = handlers.reset_command_key(command)
            if key is not None:  # queued before answering: later messages use the new thread
                await handlers.reset_command(key, command)
            await ack(RESET_REPLY if key is not None else RESET_ELSEWHERE)
