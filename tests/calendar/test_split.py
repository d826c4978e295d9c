"""Splitting a series ("this and following") in the calendar engine: the head and the tail
together expand to the original occurrences; a tail moved by the split's changes expands to
the original's later occurrences with the change applied."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar import recurrence
from calendo.calendar.recurrence import Override, Series
from calendo.calendar.split import split

PROPERTY = settings(max_examples=100, deadline=None, database=None)

RULES = (
    "FREQ=DAILY;COUNT=10",
    "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=12",
    "FREQ=WEEKLY;INTERVAL=2",
    "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=6",
    "FREQ=HOURLY;INTERVAL=7;COUNT=30",
    "FREQ=DAILY;UNTIL=20260420T000000Z",
    "FREQ=MINUTELY;INTERVAL=90;COUNT=20",
)
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WIDE = (BASE - timedelta(days=10), BASE + timedelta(days=400))


def _minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: timedelta(minutes=m))


@st.composite
def cases(
    draw: st.DrawFn, zones: tuple[str, ...] = ZONES, extras: bool = True
) -> tuple[Series, datetime]:
    """A series (with exceptions, and unless ``extras`` is false extra dates and overrides)
    in one of ``zones``, and one of its rule's occurrences after its first."""
    start = BASE + draw(_minutes(0, 60 * 24 * 20))
    duration = draw(_minutes(1, 60 * 5))
    plain = Series(
        start, start + duration, draw(st.sampled_from(zones)), draw(st.sampled_from(RULES))
    )
    starts = [o.start for o in recurrence.expand(plain, *WIDE, limit=10_000).occurrences]
    exdates = draw(st.lists(st.sampled_from(starts), max_size=3, unique=True))
    rdates = draw(
        st.lists(_minutes(1, 60 * 24 * 90).map(lambda d: start + d), max_size=3 if extras else 0)
    )
    chosen = draw(st.lists(st.sampled_from(starts), max_size=4 if extras else 0, unique=True))
    overrides = tuple(
        Override(rid, rid + timedelta(minutes=30), None, None) for rid in sorted(chosen)
    )
    series = replace(plain, exdates=tuple(exdates), rdates=tuple(rdates), overrides=overrides)
    points = [x for x in starts[1:] if x not in exdates] or starts[:1]
    at = draw(st.sampled_from(points))
    return series, at


def _starts(series: Series) -> list[tuple[datetime, datetime, datetime | None]]:
    found = recurrence.expand(series, *WIDE, limit=10_000).occurrences
    return [(o.start, o.end, o.recurrence_id) for o in found]


@PROPERTY
@given(cases())
def test_the_head_and_the_tail_expand_to_the_original(case: tuple[Series, datetime]) -> None:
    series, at = case
    if at == series.start or at in series.exdates:
        return
    parts = split(series, at)

    def key(item: tuple[datetime, datetime, datetime | None]) -> tuple[datetime, ...]:
        return (item[0], item[1], item[2] or item[0])

    together = sorted(_starts(parts.head) + _starts(parts.tail), key=key)
    assert together == sorted(_starts(series), key=key)
    assert all(o[2] is None or o[2] < at for o in _starts(parts.head))
    assert parts.tail.start == at


# In UTC (a wall-clock move across DST is not an absolute shift), without extra dates or
# overrides (absolute instants, which a moved rule does not carry).
@PROPERTY
@given(cases(zones=("UTC",), extras=False), _minutes(-60 * 5, 60 * 5))
def test_a_moved_tail_is_the_original_from_the_split_on_moved(
    case: tuple[Series, datetime], delta: timedelta
) -> None:
    series, at = case
    rule = series.rule or ""
    if at == series.start or at in series.exdates or "UNTIL" in rule or "BY" in rule:
        # No split there; or a rule that does not follow its start (UNTIL keeps its end, BY
        # parts pin days), so moving the start is no shift of its occurrences.
        return
    tail = split(series, at).tail
    moved = replace(
        tail,
        start=tail.start + delta,
        end=tail.end + delta,
        exdates=tuple(x + delta for x in tail.exdates),
    )
    original = [(s, e) for s, e, _ in _starts(series) if s >= at]
    assert [(s, e) for s, e, _ in _starts(moved)] == [(s + delta, e + delta) for s, e in original]


def test_a_split_refuses_a_point_that_is_not_an_occurrence_of_the_rule() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    series = Series(start, start + timedelta(hours=1), "UTC", "FREQ=WEEKLY;COUNT=4")
    with pytest.raises(recurrence.RecurrenceError, match="first occurrence"):
        split(series, start)
    with pytest.raises(recurrence.RecurrenceError, match="occurrence of the series' rule"):
        split(series, start + timedelta(days=1))
    parts = split(series, start + timedelta(days=14))
    assert parts.head.rule == "FREQ=WEEKLY;UNTIL=20260316T085959Z"
    assert parts.tail.rule == "FREQ=WEEKLY;COUNT=2"
