"""Role ordering and what each role may do (pure)."""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

# The one list of roles: schemas, the access check and the role ranking all use it.
Role = Literal["owner", "editor", "viewer"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "owner": 3}


def allows(role: str, minimum: Role) -> bool:
    """Whether ``role`` is at least ``minimum``."""
    return RANK.get(role, 0) >= RANK[minimum]


def roles_allowing(minimum: Role) -> tuple[Role, ...]:
    """Every role that ``allows`` ``minimum``: the rule as a list a query can match against."""
    return tuple(role for role in get_args(Role) if allows(role, minimum))


def is_role(value: str) -> TypeGuard[Role]:
    """Whether a stored value is a known role."""
    return value in RANK
