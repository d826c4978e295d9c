"""RDATE in the calendar engine: a series' occurrences are its rule's, plus its extra dates,
minus its exceptions, within any window; the cap takes the first of them; the series' bounds
reach its last extra date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar import recurrence
from calendo.calendar.recurrence import Occurrence, Series

PROPERTY = settings(max_examples=150, deadline=None, database=None)

RULES = (
    "FREQ=DAILY;COUNT=10",
    "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=12",
    "FREQ=WEEKLY",
    "FREQ=HOURLY;INTERVAL=7;COUNT=30",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=DAILY;UNTIL=20260420T000000Z",
)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney")
BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: timedelta(minutes=m))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Series, datetime, datetime]:
    start = BASE + draw(_minutes(0, 60 * 24 * 20))
    duration = draw(_minutes(0, 60 * 30))
    rdates = draw(st.lists(_minutes(0, 60 * 24 * 90).map(lambda d: start + d), max_size=12))
    plain = Series(
        start, start + duration, draw(st.sampled_from(ZONES)), draw(st.sampled_from(RULES))
    )
    everything = recurrence.expand(plain, BASE, BASE + timedelta(days=150), limit=10_000)
    candidates = [o.start for o in everything.occurrences] + rdates
    exdates = draw(st.lists(st.sampled_from(candidates), max_size=6)) if candidates else []
    series = Series(
        plain.start, plain.end, plain.timezone, plain.rule, tuple(exdates), tuple(rdates)
    )
    window_start = BASE + draw(_minutes(0, 60 * 24 * 100))
    window_end = window_start + draw(_minutes(0, 60 * 24 * 40))
    return series, window_start, window_end


def _expected(series: Series, start: datetime, end: datetime) -> list[Occurrence]:
    """The plain rule's occurrences ∪ the RDATEs − the EXDATEs, overlapping the window."""
    plain = Series(series.start, series.end, series.timezone, series.rule)
    duration = series.end - series.start
    starts = {o.start for o in recurrence.expand(plain, start, end, limit=10_000).occurrences}
    starts |= {r for r in series.rdates if r + duration > start and r < end}
    starts -= set(series.exdates)
    return [Occurrence(s, s + duration) for s in sorted(starts)]


@PROPERTY
@given(cases())
def test_expansion_is_the_rule_plus_rdates_minus_exdates(
    case: tuple[Series, datetime, datetime],
) -> None:
    series, start, end = case
    expected = _expected(series, start, end)
    found = recurrence.expand(series, start, end, limit=10_000)
    assert found.occurrences == expected and not found.truncated
    # The cap keeps the first occurrences of that union, and says so.
    if len(expected) > 2:
        capped = recurrence.expand(series, start, end, limit=2)
        assert capped.occurrences == expected[:2] and capped.truncated


@PROPERTY
@given(cases())
def test_the_series_bounds_cover_every_rdate(case: tuple[Series, datetime, datetime]) -> None:
    series, _, _ = case
    last = recurrence.series_last_end(series)
    duration = series.end - series.start
    kept = [r for r in series.rdates if r not in series.exdates]
    if last is not None and kept:
        assert last >= max(kept) + duration


def test_a_single_event_with_rdates() -> None:
    start = datetime(2026, 3, 20, 10, tzinfo=UTC)
    extra = (start + timedelta(days=2), start + timedelta(days=1))
    single = Series(start, start + timedelta(minutes=5), "UTC", None, rdates=extra)
    found = recurrence.expand(single, start, start + timedelta(days=3))
    assert [o.start for o in found.occurrences] == [start, extra[1], extra[0]]
    # An occurrence ending at the window start is not in it; one starting there is.
    at = recurrence.expand(single, extra[1], extra[1] + timedelta(hours=1))
    assert [o.start for o in at.occurrences] == [extra[1]]
    after = recurrence.expand(single, extra[1] + timedelta(minutes=5), extra[0])
    assert after.occurrences == []
    assert recurrence.series_last_end(single) == extra[0] + timedelta(minutes=5)


def test_a_window_takes_its_rdates_from_a_long_list() -> None:
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    extra = tuple(start + timedelta(days=d, hours=3) for d in range(1000))
    series = Series(start, start + timedelta(hours=1), "UTC", "FREQ=YEARLY;COUNT=1", rdates=extra)
    found = recurrence.expand(
        series, datetime(2027, 6, 1, tzinfo=UTC), datetime(2027, 6, 3, tzinfo=UTC)
    )
    assert [o.start for o in found.occurrences] == [
        datetime(2027, 6, 1, 13, tzinfo=UTC),
        datetime(2027, 6, 2, 13, tzinfo=UTC),
    ]
    assert recurrence.series_last_end(series) == extra[-1] + timedelta(hours=1)
