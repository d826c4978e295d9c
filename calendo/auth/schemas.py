"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from calendo.calendar.fields import Timezone

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
# A password being set (registration, a change); one being checked is only bounded in length.
NewPassword = Annotated[str, Field(min_length=8, max_length=256)]
CheckedPassword = Annotated[str, Field(max_length=256)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    timezone: str = Field(
        description="The account's default time zone (IANA name) for rendering times."
    )
    created_at: datetime


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class UserSearchResult(BaseModel):
    items: list[UserBrief]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="3–32 of `A-Z a-z 0-9 _ . -`")
    email: EmailStr
    password: NewPassword


class LoginRequest(BaseModel):
    """Either `username` or `email` (the `username` field also accepts an email)."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(None, max_length=320)
    email: str | None = Field(None, max_length=320)
    password: CheckedPassword

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.username or self.email):
            raise ValueError("give a username or an email")
        return self

    @property
    def identifier(self) -> str:
        """The name or email to look the account up by."""
        return self.username or self.email or ""


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(max_length=4096)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(None, max_length=4096)


class TokenResponse(BaseModel):
    user: UserRead
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token in seconds.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: CheckedPassword
    new_password: NewPassword = Field(description="At least 8 characters, as at registration.")


class AccountUpdate(BaseModel):
    """The fields to change; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = Field(None, description="Needs `current_password`.")
    timezone: Timezone | None = Field(
        None, description="IANA zone name (`Europe/Berlin`) times are rendered in by default."
    )
    current_password: CheckedPassword | None = Field(
        None, description="The account's password; required when `email` changes."
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> AccountUpdate:
        for name in ("email", "timezone"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: CheckedPassword = Field(description="The account's password.")
