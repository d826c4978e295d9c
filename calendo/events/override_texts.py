"""The OpenAPI texts of ``recurrence_overrides`` and its items (``events.schemas``), kept
here so that module stays within its size."""

from __future__ import annotations

from calendo.calendar.overrides import MAX_OVERRIDES

OVERRIDES = (
    "Single-occurrence edits (RFC 5545 RECURRENCE-ID), one per occurrence, sorted by "
    "`recurrence_id`: the start the series gives the occurrence, and what this occurrence has "
    "of its own (its times, title, description, location, transparency; a field left out is "
    "the series'; a start at the `recurrence_id` itself is none of its own, as an iCalendar "
    "import reads it; on an all-day series, `start_date` / `end_date` or UTC midnights, "
    "stored as UTC midnights, a start on the occurrence's own date none of its own). Only on "
    "a recurring event, at most "
    f"{MAX_OVERRIDES:,}; an occurrence may not start before the series' `start_time`. "
    "`PATCH /api/events/{id}/occurrences/{recurrence_id}` edits one. When the series' start "
    "moves, each override's `recurrence_id` moves with it; an override whose occurrence the "
    "series no longer has is kept, inert, and listed in a write's `orphaned_overrides`."
)

OVERRIDE_ID = (
    "The start the series gives this occurrence (RFC 3339 with an offset), stored and returned "
    "in UTC. An all-day series' occurrence is named as `…/occurrences/{recurrence_id}` names "
    "it: by its date (`2026-03-26`), or by a time that is 00:00 on its own offset's clock, read "
    "as that date (`2026-03-26T00:00:00Z`, or `2026-03-26T00:00:00+01:00` as `/occurrences` "
    "places it); stored and returned as its UTC midnight (`2026-03-26T00:00:00Z`). Any other "
    "time on an all-day series, and a date on a timed one, is a 422 at "
    '`["body","recurrence_overrides",i,"recurrence_id"]`.'
)
