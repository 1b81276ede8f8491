"""The LLM brain: any OpenAI-compatible Chat Completions endpoint, from settings."""

from __future__ import annotations

from typing import Protocol

from pydantic_ai.models import Model


class AgentModelSettings(Protocol):
    agent_model: str | None
    agent_base_url: str | None
    agent_api_key: str | None


def model_from_settings(settings: AgentModelSettings) -> Model | None:
    """None (the built-in agent) unless AGENT_MODEL is set.

    `openai-chat:<name>` (or a bare `<name>`) is Chat Completions, which OpenAI, Ollama, vLLM
    and llama.cpp server all speak; `openai:` would mean the Responses API in pydantic-ai v2,
    which most local servers lack, so it is read as Chat Completions too.
    """
    name = (settings.agent_model or "").strip()
    if not name or name == "builtin":
        return None
    for prefix in ("openai-chat:", "openai:"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    # Imported here: the OpenAI client and its models take 30-40 MB of every conversations
    # process, and only an LLM agent needs them.
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(
        base_url=settings.agent_base_url or None, api_key=settings.agent_api_key or None
    )
    return OpenAIChatModel(name, provider=provider)
