"""Validated field types for the engine's values, shared by every schema that takes them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from calendo.calendar import recurrence


def _zone(value: str) -> str:
    try:
        recurrence.load_zone(value)
    except recurrence.RecurrenceError as exc:
        raise ValueError(str(exc)) from exc
    return value


# An IANA time zone name (`Europe/Berlin`), as an event's zone and an account's default.
Timezone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
