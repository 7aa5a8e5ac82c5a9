"""A user tools module, loaded through TOOLS_MODULES in tests."""

from core.tools import ToolContext, tool


@tool
def shout(text: str, ctx: ToolContext) -> str:
    """Upper-case some text.

    Args:
        text: What to shout.
    """
    return f"{text.upper()} (for {ctx.user_id})"
