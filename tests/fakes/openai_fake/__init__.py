"""A faithful, stateful, scriptable fake of the OpenAI API (Chat Completions and Assistants v2).

The real ``openai.AsyncOpenAI(base_url=fake.base_url, api_key="test")`` talks to it over HTTP
on 127.0.0.1 (ephemeral port)::

    async with FakeOpenAI() as fake:
        fake.model.add_rule("weather", Reply(tool_calls=[ToolCallSpec("get_weather", "{}")],
                                             then=Reply(text=lambda outs: f"It is {outs[0]}")))
        fake.inject(Fault.status(429, retry_after_ms=20), path="/chat/completions")
        ...
        fake.model.calls          # what the model saw, as chat-style message lists
        fake.requests_to("/runs") # the request log (paths relative to /v1)
        fake.assistants_state     # assistants, threads, messages, runs, steps

Modules: ``model`` (scripting), ``faults``, ``chat``, ``assistants`` / ``assistants_state`` /
``assistants_runs``, ``sse``, ``wire``, ``request_log``, ``server``; the pytest fixture
``openai_fake`` lives in ``pytest_plugin``.
"""

from .faults import Fault
from .model import Reply, ScriptedModel, ToolCallSpec
from .request_log import Recorded
from .server import FakeOpenAI

__all__ = ["FakeOpenAI", "Fault", "Recorded", "Reply", "ScriptedModel", "ToolCallSpec"]
