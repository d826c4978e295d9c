"""Permission bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from calendo.core.bounded import CountFirst
from calendo.sharing.policy import Role

GrantableRole = Literal["editor", "viewer"]
MAX_SHARE_TARGETS = 100


class PermissionRead(BaseModel):
    user_id: int
    username: str
    role: Role
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


# The collaborators of one share request (or share operation), counted before validation.
ShareTargets = Annotated[list[ShareTarget], Field(min_length=1), CountFirst(MAX_SHARE_TARGETS)]


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: ShareTargets


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: GrantableRole
