"""What every service's HTTP app holds to, read from the apps themselves (nothing connects)."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

SERVICES = ("gateway", "workspaces", "connectors", "conversations")
# FastAPI's own login form class: one thread hop on a sign-in, next to a password hash.
ALLOWED = {"/api/v1/login/access-token: OAuth2PasswordRequestForm"}


def app_of(service: str) -> Any:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app configures logging
    try:
        settings = importlib.import_module(f"{service}.settings").Settings(_env_file=None)
        return importlib.import_module(f"{service}.main").create_app(settings)
    finally:
        root.handlers[:], root.level = handlers, level


def calls(dependant: Dependant) -> Iterator[Any]:
    """The endpoint and every dependency under it."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def runs_in_thread_pool(call: Any) -> bool:
    """FastAPI awaits coroutine functions and sends anything else to its thread pool."""
    target = call if inspect.isroutine(call) else type(call).__call__  # a class: type's own
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_sends_its_work_to_the_thread_pool(service: str) -> None:
    """A plain `def` endpoint or dependency costs a thread hop per request (it was a tenth of
    connectors' CPU per availability call); the services' work is all async."""
    routes = [
        route
        for route in iter_route_contexts(app_of(service).routes)  # included routers unfolded
        if isinstance(route.original_route, APIRoute)
    ]
    assert routes, f"{service} has no API routes: the check would pass vacuously"
    sync = sorted(
        {
            f"{route.path}: {getattr(call, '__qualname__', call)}"
            for route in routes
            for call in calls(route.dependant)
            if runs_in_thread_pool(call)
        }
    )
    sync = [s for s in sync if s not in ALLOWED]
    assert sync == [], f"{service} runs these in the thread pool: {sync}"
