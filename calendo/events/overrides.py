"""Single-occurrence overrides of a series, as an event stores them.

An event keeps its overrides in ``recurrence_overrides``, a content field like the others:
a list of dicts sorted by ``recurrence_id``, each holding only what the occurrence has of its
own (times as RFC 3339 UTC strings)::

    {"recurrence_id": "2026-03-12T09:00:00Z", "start_time": "2026-03-12T14:00:00Z",
     "end_time": "2026-03-12T15:00:00Z", "title": "Moved stand-up"}

Being content, an override edit is a new version of the series: history, diff, rollback,
``as_of``, the sync feed and the notifications carry it with no code of their own. This
module turns request values into that form, checks them, re-keys them when the series'
start moves, and hands the calendar engine its ``Override`` values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calendo.calendar import recurrence
from calendo.calendar.overrides import MAX_OVERRIDES, Override
from calendo.core.errors import NotFound, ValidationFailed
from calendo.events import all_day
from calendo.events.scheduling import series_of_content
from calendo.events.snapshots import format_instant, parse_instant

FIELD = "recurrence_overrides"
TIMES = ("start_time", "end_time")
# What an override may hold besides its recurrence id, in the order it is stored.
OWN_FIELDS = ("start_time", "end_time", "title", "description", "location", "transparency")
# What an all-day series' occurrence may be moved by instead of its times (never stored).
DATES = ("start_date", "end_date")
# The event fields an override may replace on its occurrence (its times aside).
CONTENT = ("title", "description", "location", "transparency")
_LOC = ("body", FIELD)


def stored(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Request overrides (``OverrideIn`` dumps) in stored form: set fields only, times as
    RFC 3339 UTC strings, sorted by recurrence id; two for one occurrence are a 422. A
    recurrence id that may name an all-day series' occurrence by its date (a date, or 00:00
    on a clock other than UTC) is kept as sent until ``all_day.settle_overrides`` reads it."""
    result: dict[str, dict[str, Any]] = {}
    for item in items:
        rid = _sent_id(item["recurrence_id"])
        key = format_instant(all_day.stored_instant(rid))
        if key in result:
            raise ValidationFailed(f"two overrides for the occurrence {rid}", loc=_LOC)
        result[key] = {"recurrence_id": rid, **own(item)}
    return [result[key] for key in sorted(result, key=parse_instant)]


def _sent_id(value: datetime | date | str) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        return value.isoformat()
    local_midnight = value.time() == datetime.min.time() and value.utcoffset()
    return value.isoformat() if local_midnight else format_instant(value)


def own(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``item`` an override keeps (the set ones), times in stored form; the
    dates an all-day series' occurrence may be given by as ISO dates, which
    ``all_day.settle_overrides`` turns into times once the series' kind is known."""
    kept: dict[str, Any] = {}
    for field in (*OWN_FIELDS, *DATES):
        value = item.get(field)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = format_instant(value)
        kept[field] = value.isoformat() if isinstance(value, date) else value
    return kept


def patched(
    values: list[dict[str, Any]], recurrence_id: datetime, changes: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The overrides after an edit of one occurrence: ``changes`` (field → value, None gives
    the field back to the series) merged into its override; an override left with nothing of
    its own is dropped."""
    rid = format_instant(recurrence_id)
    current = next((dict(v) for v in values if v["recurrence_id"] == rid), {"recurrence_id": rid})
    for field, value in changes.items():
        if value is None:
            current.pop(field, None)
        else:
            current[field] = format_instant(value) if isinstance(value, datetime) else value
    others = [v for v in values if v["recurrence_id"] != rid]
    mine = [current] if len(current) > 1 else []
    return sorted(others + mine, key=lambda v: parse_instant(v["recurrence_id"]))


def shifted(values: list[dict[str, Any]], delta: timedelta) -> list[dict[str, Any]]:
    """The overrides of a series moved by ``delta`` in absolute time (a shifted write)."""
    return [
        {k: _later(v, delta) if k == "recurrence_id" or k in TIMES else v for k, v in item.items()}
        for item in values
    ]


def _later(value: str, delta: timedelta) -> str:
    return format_instant(parse_instant(value) + delta)


def without(values: list[dict[str, Any]], recurrence_id: datetime) -> list[dict[str, Any]]:
    """The overrides without the one of this occurrence."""
    rid = format_instant(recurrence_id)
    return [v for v in values if v["recurrence_id"] != rid]


def wall_mover(previous: Mapping[str, Any], content: Mapping[str, Any]) -> Callable[[str], str]:
    """Move a stored instant of the series as its start moved from ``previous`` to
    ``content``: by the same wall-clock distance, in the series' zone (where its rule puts
    the occurrences), so it lands on the same occurrence across DST."""
    old_zone = recurrence.load_zone(previous["timezone"])
    new_zone = recurrence.load_zone(content["timezone"])
    old_start = parse_instant(previous["start_time"]).astimezone(old_zone)
    new_start = parse_instant(content["start_time"]).astimezone(new_zone)
    delta = new_start.replace(tzinfo=None) - old_start.replace(tzinfo=None)

    def moved(value: str) -> str:
        wall = parse_instant(value).astimezone(old_zone).replace(tzinfo=None) + delta
        return format_instant(wall.replace(tzinfo=new_zone).astimezone(UTC))

    return moved


def rekeyed(previous: Mapping[str, Any], content: dict[str, Any]) -> None:
    """Move the overrides with the series when its start moved (and the request did not send
    overrides of its own): each recurrence id, and each override's own times, move as the
    start did (``wall_mover``). An override whose moved occurrence the new series does not
    have, but whose original one it still has (a rule that pins its days, such as
    ``BYDAY=MO``, does not follow its start), keeps its place; one with neither is orphaned
    (``orphaned``), never dropped."""
    values = content.get(FIELD) or []
    if not values or previous["start_time"] == content["start_time"]:
        return
    moved = wall_mover(previous, content)
    shifted = [
        {k: moved(v) if k == "recurrence_id" or k in TIMES else v for k, v in item.items()}
        for item in values
    ]
    content[FIELD] = shifted
    lost = set(recurrence.orphaned_overrides(series_of_content(content)))
    if not lost:
        return
    kept = [
        original if parse_instant(item["recurrence_id"]) in lost else item
        for item, original in zip(shifted, values, strict=True)
    ]
    content[FIELD] = sorted(kept, key=lambda v: parse_instant(v["recurrence_id"]))


def check(
    previous: Mapping[str, Any] | None, content: Mapping[str, Any], series: recurrence.Series
) -> list[datetime]:
    """422 unless the content's overrides fit its ``series``: at most ``MAX_OVERRIDES``, each
    ending after it starts and starting no earlier than the series (whose start bounds it in
    the calendar index), and each one new or changed by this write (``previous`` is the
    content before it) an override of an occurrence the series has. Returns the recurrence
    ids of the overrides the series does not have (kept, orphaned)."""
    values = content.get(FIELD) or []
    if not values:
        return []
    if len(values) > MAX_OVERRIDES:
        raise ValidationFailed(
            f"at most {MAX_OVERRIDES} overrides per series (recurrence_overrides cap)", loc=_LOC
        )
    duration = series.end - series.start
    for override in series.overrides:
        start, end = override.placed(duration)
        rid = format_instant(override.recurrence_id)
        if end <= start:
            raise ValidationFailed(f"the occurrence {rid} must end after it starts", loc=_LOC)
        if start < series.start:
            raise ValidationFailed(
                f"the occurrence {rid} cannot start before the series' start_time "
                f"{format_instant(series.start)} (move the series instead)",
                loc=_LOC,
            )
    missing = recurrence.orphaned_overrides(series)
    before = {_key(v) for v in (previous or {}).get(FIELD) or ()}
    lost = set(missing)
    for value in values:
        if _key(value) not in before and parse_instant(value["recurrence_id"]) in lost:
            raise ValidationFailed(
                f"the series has no occurrence starting at {value['recurrence_id']}", loc=_LOC
            )
    return missing


def _key(value: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(value.items()))


def require_occurrence(content: Mapping[str, Any], named: datetime | date) -> datetime:
    """The recurrence id of the occurrence a path names (``all_day.occurrence_key``); 404 unless the
    series has an occurrence starting there (an overridden one counts by the start its series
    gives it)."""
    recurrence_id = all_day.occurrence_key(content, named)
    probe = replace(series_of_content(content), overrides=(Override(recurrence_id),))
    if not content["is_recurring"] or recurrence.orphaned_overrides(probe):
        hint = " (an all-day series' occurrence is named by its date)" * bool(content["all_day"])
        raise NotFound(
            f"The event has no occurrence starting at {format_instant(recurrence_id)}{hint}"
        )
    return recurrence_id


def orphaned(series: recurrence.Series) -> list[datetime]:
    """The recurrence ids of the series' overrides its occurrences no longer include."""
    return recurrence.orphaned_overrides(series) if series.overrides else []


def for_occurrence(
    values: list[dict[str, Any]] | None, recurrence_id: datetime
) -> dict[str, Any] | None:
    """The stored override of one occurrence, if any."""
    rid = format_instant(recurrence_id)
    return next((v for v in values or () if v["recurrence_id"] == rid), None)
