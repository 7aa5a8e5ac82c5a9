"""What a model server's 400 answers say, whatever the backend: a request too long for the
model's context, or a parameter the server doesn't take. Servers word these differently
(OpenAI, vLLM, llama.cpp, LiteLLM), so the checks look at the code first, then the text."""

from __future__ import annotations

import openai

_CONTEXT_PHRASES = (
    "context length",  # OpenAI, vLLM: "This model's maximum context length is …"
    "context_length",
    "context window",  # OpenAI Responses: "Your input exceeds the context window of …"
    "context size",  # llama.cpp: "the request exceeds the available context size"
    "exceed_context_size",  # llama.cpp's error type
)


def is_context_length_error(exc: BaseException) -> bool:
    """Whether a 400 says the request is too long for the model's context."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    if getattr(exc, "code", None) == "context_length_exceeded":
        return True
    text = str(exc).lower()
    return any(phrase in text for phrase in _CONTEXT_PHRASES)


_REJECTED = ("unsupported", "not supported", "unrecognized", "unknown", "not allowed", "extra")


def rejects_param(exc: BaseException, param: str) -> bool:
    """Whether a 400 says the server does not take the parameter ``param``."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    if getattr(exc, "param", None) == param:
        return True
    text = str(exc).lower()
    return param in text and any(word in text for word in _REJECTED)
