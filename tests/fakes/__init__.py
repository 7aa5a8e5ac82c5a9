"""Local fakes of the external services (OpenAI, Slack, Discord) that tests talk to over real sockets."""
