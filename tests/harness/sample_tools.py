"""A user tools module, loaded through TOOLS_MODULES in tests."""

from core.tools import ToolContext, tool


@tool
def shout(text: str, ctx: ToolContext) -> str:
    """Upper-case some text.

    Args:
        text: What to shout.
    """
    return f"{text.upper()} (for {ctx.user_id})"


@tool
def ream(pages: int) -> str:
    """A large output: ``pages`` thousand characters of text.

    Args:
        pages: How many thousand characters.
    """
    line = ("All work and no play makes a dull tool output. " * 22)[:994]
    return "".join(f"{line}p{i:04d}\n" for i in range(pages))
