"""A faithful, stateful, scriptable fake of the OpenAI API (Chat Completions and Assistants v2).

The real ``openai.AsyncOpenAI(base_url=fake.base_url, api_key="test")`` talks to it over HTTP.
"""

from .faults import Fault
from .model import Reply, ScriptedModel, ToolCallSpec
from .request_log import Recorded
from .server import FakeOpenAI

__all__ = ["FakeOpenAI", "Fault", "Recorded", "Reply", "ScriptedModel", "ToolCallSpec"]
