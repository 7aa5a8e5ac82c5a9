"""The Slack adapter: Bolt AsyncApp over HTTP or Socket Mode, mentions, thread follow-ups,
DMs and the assistant pane, replies streamed natively with a post-and-update fallback, and
Slack tools. :mod:`bots.slack.adapter` implements the adapter contract."""
