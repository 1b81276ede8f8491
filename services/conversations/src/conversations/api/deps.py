"""Dependency aliases for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from conversations.db.uow import ConversationsUnitOfWork
from conversations.settings import Settings


async def get_uow(request: Request) -> ConversationsUnitOfWork:
    return ConversationsUnitOfWork(request.app.state.runtime.sessionmaker)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


UowDep = Annotated[ConversationsUnitOfWork, Depends(get_uow)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
