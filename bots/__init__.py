"""Platform adapters (console, Slack, Discord) that turn platform events into core calls."""
