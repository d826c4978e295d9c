"""List bodies are counted before any of their items is validated.

Pydantic's ``max_length`` on a list validates items as it goes and only stops one past the
limit, and a limit checked in the handler comes after every item was validated: a 1 MB body
of 100,000 tiny items then costs seconds of CPU on the event loop before its 422. Annotating a
list with ``CountFirst(limit)`` checks ``len()`` of the decoded list first, so an oversized one
is refused with no item validated, with pydantic's own ``too_long`` error (the same 422 as
``max_length``).

A limit that is a setting (``CALENDO_BATCH_MAX``) is a callable of the ``Settings`` of the app
serving the request: the negotiation middleware, which reads every body, sets them in
``SERVING_SETTINGS`` for the request; outside a request (a model validated directly) the
settings' defaults apply.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticKnownError, core_schema

from calendo.core.config import Settings

# The settings of the app serving the request being handled (set by the negotiation
# middleware around the app, reset after it).
SERVING_SETTINGS: ContextVar[Settings | None] = ContextVar("calendo_serving_settings", default=None)

SettingLimit = Callable[[Settings | None], int]
# What a lax list schema accepts as a list (JSON gives lists).
_COUNTED = (list, tuple, set, frozenset)


def setting_limit(name: str) -> SettingLimit:
    """A limit read from the serving app's settings field ``name`` (its default outside one)."""
    default = Settings.model_fields[name].default

    def limit(settings: Settings | None) -> int:
        return int(getattr(settings, name)) if settings is not None else int(default)

    return limit


@dataclass(frozen=True, slots=True)
class CountFirst:
    """``Annotated[list[X], CountFirst(100)]``: more than 100 items is a 422 before any item
    is validated. ``limit`` is a number or a ``setting_limit``."""

    limit: int | SettingLimit

    def current(self) -> int:
        """The limit for the request being handled."""
        return self.limit if isinstance(self.limit, int) else self.limit(SERVING_SETTINGS.get())

    def check(self, value: Any) -> Any:
        # Only a sequence is counted; anything else gets the list schema's own error.
        if isinstance(value, _COUNTED) and len(value) > (limit := self.current()):
            raise PydanticKnownError(
                "too_long", {"field_type": "List", "max_length": limit, "actual_length": len(value)}
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if isinstance(self.limit, int):
            json_schema["maxItems"] = self.limit
        return json_schema
