"""Request and response bodies, in the shapes the web frontend already uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, field_validator

Password = Annotated[str, Field(min_length=8, max_length=128)]
Name = Annotated[str, Field(max_length=255)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()\-]{6,30}$", examples=["+1 415 555 0100"])]
SocialNetwork = Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,30}$")]


def _url(value: str | None) -> str | None:
    return None if value is None else str(AnyHttpUrl(value))


class ProfileFields(BaseModel):
    """Business profile the frontend shows during setup and on the owner's page."""

    business_name: Name | None = None
    tagline: Name | None = None
    bio: Annotated[str, Field(max_length=5000)] | None = None
    phone: Phone | None = None
    website: Annotated[str, Field(max_length=2048)] | None = None
    social_links: dict[SocialNetwork, str] | None = Field(
        default=None, max_length=20, examples=[{"instagram": "https://instagram.com/acme"}]
    )
    setup_completed: bool | None = None

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return _url(value)

    @field_validator("social_links")
    @classmethod
    def _links(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        return {network: str(_url(url)) for network, url in value.items()}


class UserRegister(BaseModel):
    email: EmailStr
    password: Password
    full_name: Name | None = None


class UserCreate(ProfileFields):
    email: EmailStr
    password: Password
    full_name: Name | None = None
    is_active: bool = True
    is_superuser: bool = False


class UserUpdate(ProfileFields):
    email: EmailStr | None = None
    password: Password | None = None
    full_name: Name | None = None
    is_active: bool | None = None
    is_superuser: bool | None = None


class UserUpdateMe(ProfileFields):
    # Accepted only unchanged: a new address goes through POST /users/me/email.
    email: EmailStr | None = Field(
        default=None, description="Read-only here: change it with POST /users/me/email"
    )
    full_name: Name | None = None


class EmailChange(BaseModel):
    new_email: EmailStr
    current_password: Annotated[str, Field(min_length=1, max_length=128)]


class EmailConfirmation(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class UpdatePassword(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: EmailStr
    full_name: str | None
    is_active: bool
    is_superuser: bool
    business_name: str | None
    tagline: str | None
    bio: str | None
    phone: str | None
    website: str | None
    social_links: dict[str, str]
    setup_completed: bool
    created_at: datetime

    @field_validator("social_links", mode="before")
    @classmethod
    def _no_links(cls, value: object) -> object:
        # Rows written before null meant "clear" hold JSON null: read them as no links.
        return {} if value is None else value


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class PasswordRecovery(BaseModel):
    email: EmailStr


class NewPassword(BaseModel):
    token: str
    new_password: Password


class Message(BaseModel):
    message: str
