"""Permission bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GrantableRole = Literal["editor", "viewer"]


class PermissionRead(BaseModel):
    user_id: int
    username: str
    role: Literal["owner", "editor", "viewer"]
    granted_by: int | None
    granted_at: datetime


class ShareTarget(BaseModel):
    """A collaborator named by `user_id` or `username`."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = None
    username: str | None = Field(None, max_length=32)
    role: GrantableRole

    @model_validator(mode="after")
    def _one_name(self) -> ShareTarget:
        if (self.user_id is None) == (self.username is None):
            raise ValueError("name the user by exactly one of user_id or username")
        return self


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[ShareTarget] = Field(min_length=1, max_length=100)


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: GrantableRole
