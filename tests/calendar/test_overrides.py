"""Single-occurrence overrides in the calendar engine: expanding a series with overrides is
expanding the plain series and applying them; an orphaned override is inert; the series'
bounds reach a moved occurrence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar import recurrence
from calendo.calendar.recurrence import Occurrence, Override, Series

PROPERTY = settings(max_examples=100, deadline=None, database=None)

RULES = (
    "FREQ=DAILY;COUNT=10",
    "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=12",
    "FREQ=WEEKLY",
    "FREQ=HOURLY;INTERVAL=7;COUNT=30",
    "FREQ=DAILY;UNTIL=20260420T000000Z",
)
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WIDE = (BASE - timedelta(days=10), BASE + timedelta(days=200))


def _minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: timedelta(minutes=m))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Series, datetime, datetime]:
    start = BASE + draw(_minutes(0, 60 * 24 * 20))
    duration = draw(_minutes(1, 60 * 5))
    plain = Series(
        start, start + duration, draw(st.sampled_from(ZONES)), draw(st.sampled_from(RULES))
    )
    starts = [o.start for o in recurrence.expand(plain, *WIDE, limit=10_000).occurrences]
    chosen = draw(st.lists(st.sampled_from(starts), max_size=8, unique=True)) if starts else []
    made = []
    for rid in sorted(chosen):
        moved = draw(st.one_of(st.none(), _minutes(-60 * 24, 60 * 24 * 3)))
        length = draw(st.one_of(st.none(), _minutes(1, 60 * 6)))
        new_start = rid + moved if moved is not None else None
        new_end = (new_start or rid) + length if length is not None else None
        made.append(Override(rid, new_start, new_end, draw(st.one_of(st.none(), st.booleans()))))
    # An orphan: a start the series never has.
    if draw(st.booleans()):
        made.append(Override(start + timedelta(seconds=7), start + timedelta(hours=1)))
    window_start = BASE + draw(_minutes(-60 * 24 * 2, 60 * 24 * 100))
    window_end = window_start + draw(_minutes(1, 60 * 24 * 40))
    return replace(plain, overrides=tuple(made)), window_start, window_end


def _expected(series: Series, start: datetime, end: datetime) -> list[Occurrence]:
    """Expand the plain series over all time, apply each override to its occurrence, keep
    what overlaps the window."""
    plain = replace(series, overrides=())
    duration = series.end - series.start
    everything = recurrence.expand(plain, *WIDE, limit=10_000).occurrences
    by_id = {o.recurrence_id: o for o in series.overrides}
    result = []
    for occ in everything:
        override = by_id.get(occ.start)
        if override is None:
            placed = occ
        else:
            s, e = override.placed(duration)
            placed = Occurrence(s, e, occ.start, override.transparent)
        if placed.end > start and placed.start < end:
            result.append(placed)
    return sorted(result, key=lambda o: (o.start, o.recurrence_id or o.start))


@PROPERTY
@given(cases())
def test_expanding_with_overrides_is_the_plain_expansion_with_the_overrides_applied(
    case: tuple[Series, datetime, datetime],
) -> None:
    series, start, end = case
    got = recurrence.expand(series, start, end, limit=10_000)
    assert got.occurrences == _expected(series, start, end)
    assert not got.truncated


def _weekly() -> Series:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
    return Series(start, start + timedelta(hours=1), "Europe/Berlin", "FREQ=WEEKLY;COUNT=4")


def test_a_moved_occurrence_leaves_its_slot_and_appears_where_it_was_moved() -> None:
    series = _weekly()
    rid = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    moved = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    series = replace(series, overrides=(Override(rid, moved, moved + timedelta(hours=2)),))
    week2 = recurrence.expand(series, rid, rid + timedelta(hours=1)).occurrences
    assert week2 == []  # the 9 March slot is empty now
    found = recurrence.expand(series, moved, moved + timedelta(minutes=1)).occurrences
    assert found == [Occurrence(moved, moved + timedelta(hours=2), rid)]
    assert len(recurrence.expand(series, *WIDE).occurrences) == 4


def test_an_override_of_an_excluded_occurrence_is_orphaned_and_inert() -> None:
    rid = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    moved = rid + timedelta(hours=3)
    series = replace(
        _weekly(), exdates=(rid,), overrides=(Override(rid, moved, moved + timedelta(hours=1)),)
    )
    assert [o.start for o in recurrence.expand(series, *WIDE).occurrences] == [
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 16, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 23, 9, 0, tzinfo=UTC),
    ]
    assert recurrence.orphaned_overrides(series) == [rid]
    assert recurrence.orphaned_overrides(replace(series, exdates=())) == []


def test_the_series_bounds_reach_an_occurrence_moved_past_its_last() -> None:
    series = _weekly()
    last = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    later = datetime(2026, 4, 30, 9, 0, tzinfo=UTC)
    assert recurrence.series_last_end(series) == last + timedelta(hours=1)
    moved = replace(series, overrides=(Override(last, later, later + timedelta(hours=1)),))
    assert recurrence.series_last_end(moved) == later + timedelta(hours=1)


def test_the_limit_counts_overridden_occurrences_once() -> None:
    series = _weekly()
    rid = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    series = replace(series, overrides=(Override(rid, None, None, True),))
    got = recurrence.expand(series, *WIDE, limit=2)
    assert [o.start for o in got.occurrences] == [rid, rid + timedelta(days=7)]
    assert got.occurrences[0].transparent is True
    assert got.truncated
