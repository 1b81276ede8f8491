"""A local OpenAI-compatible Chat Completions server on 127.0.0.1 that answers with scripted
tool calls and texts, so the real OpenAIChatModel client code talks to it over HTTP."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.testing import LoopbackServer

# A step sees the request body and answers: ("tool", name, args) | ("text", content) |
# ("http", status) | a list of ("tool", name, args) for parallel calls.
Step = Callable[[dict[str, Any]], Any] | tuple[Any, ...] | list[tuple[Any, ...]]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results the client sent back, parsed, newest last."""
    out = []
    for message in body["messages"]:
        if message.get("role") == "tool":
            try:
                out.append(json.loads(message["content"]))
            except (TypeError, ValueError):
                out.append({"raw": message["content"]})
    return out


class FakeOpenAI(LoopbackServer):
    def __init__(self) -> None:
        self.script: list[Step] = []
        self.requests: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.app = self._app()
        super().__init__(self.app, "fake OpenAI")
        self.base_url = self.url + "/v1"

    def _answer(self, step: Step, body: dict[str, Any]) -> Any:
        value = step(body) if callable(step) else step
        n = next(self.ids)
        if isinstance(value, tuple) and value[0] == "http":
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}}, value[1]
            )
        calls = value if isinstance(value, list) else [value] if value[0] == "tool" else []
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for i, (_, name, args) in enumerate(calls)
            ]
        else:
            message["content"] = value[1]
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 1767225600,
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
        }

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            if not self.script:
                return JSONResponse({"error": {"message": "script exhausted"}}, 500)
            return self._answer(self.script.pop(0), body)

        return app
