"""Cursor pagination: ``{"items": [...], "next_cursor": str | null}`` with opaque cursors.

A cursor is URL-safe base64 of a small JSON list (for example ``[start_time, id]`` for keyset
pagination). It is opaque to clients; a cursor that does not decode is a 422.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from calendo.core.errors import ValidationFailed

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*parts: Any) -> str:
    """Make an opaque cursor from JSON-serialisable parts."""
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def decode_cursor(cursor: str, *, length: int) -> list[Any]:
    """Read a cursor made by ``encode_cursor`` with ``length`` parts."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor")) from exc
    if not isinstance(parts, list) or len(parts) != length:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor"))
    return parts


def int_cursor(cursor: str | None) -> int | None:
    """Decode a single-integer cursor (id-based pagination)."""
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, length=1)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("malformed cursor", loc=("query", "cursor"))
    return value
