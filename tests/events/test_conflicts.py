"""Tests for calendo.calendar.conflicts: overlap detection and free-slot search."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar.conflicts import Busy, Conflict, find_conflicts, find_shift
from calendo.calendar.recurrence import Occurrence

BASE = datetime(2024, 6, 3, tzinfo=UTC)
PROPERTY = settings(max_examples=100, deadline=None)


def at(hours: float, day: int = 0) -> datetime:
    """An instant ``hours`` after midnight of day ``day`` (from BASE)."""
    return BASE + timedelta(days=day, hours=hours)


def occ(start: float, end: float, day: int = 0) -> Occurrence:
    """A candidate occurrence between two hours of a day."""
    return Occurrence(at(start, day), at(end, day))


def busy(event_id: int, start: float, end: float, day: int = 0, title: str = "") -> Busy:
    """A busy occurrence between two hours of a day."""
    return Busy(event_id, title or f"event {event_id}", at(start, day), at(end, day))


def conflict_of(item: Busy) -> Conflict:
    """The conflict a busy occurrence produces."""
    return Conflict(item.event_id, item.title, item.start, item.end)


def hours(value: float) -> timedelta:
    """A timedelta of ``value`` hours."""
    return timedelta(hours=value)


# --------------------------------------------------------------------------- find_conflicts


def test_partial_overlap_is_a_conflict() -> None:
    standup = busy(1, 9.5, 10.5)
    assert find_conflicts([occ(9, 10)], [standup]) == [conflict_of(standup)]
    assert find_conflicts([occ(10, 11)], [standup]) == [conflict_of(standup)]


def test_touching_is_not_a_conflict() -> None:
    assert find_conflicts([occ(9, 10)], [busy(1, 10, 11), busy(2, 8, 9)]) == []


def test_containment_either_way_is_a_conflict() -> None:
    inner, outer = busy(1, 9.25, 9.75), busy(2, 8, 12)
    assert find_conflicts([occ(9, 10)], [inner, outer]) == [conflict_of(outer), conflict_of(inner)]


def test_identical_interval_is_a_conflict() -> None:
    same = busy(1, 9, 10)
    assert find_conflicts([occ(9, 10)], [same]) == [conflict_of(same)]


def test_zero_length_busy_conflicts_only_strictly_inside() -> None:
    inside, at_start, at_end = busy(1, 9.5, 9.5), busy(2, 9, 9), busy(3, 10, 10)
    assert find_conflicts([occ(9, 10)], [inside, at_start, at_end]) == [conflict_of(inside)]


def test_recurring_candidate_against_busy_days() -> None:
    daily = [occ(9, 10, day) for day in range(5)]
    tuesday = busy(7, 9.5, 11, day=1)
    thursday_afternoon = busy(8, 14, 15, day=3)
    friday = busy(9, 8, 9.25, day=4)
    found = find_conflicts(daily, [friday, thursday_afternoon, tuesday])
    assert found == [conflict_of(tuesday), conflict_of(friday)]


def test_conflicts_are_deduplicated_and_ordered() -> None:
    # Overlaps two candidate occurrences, and is listed twice.
    long_block = busy(5, 9.5, 11.5)
    same_start_low, same_start_high = busy(2, 13, 14), busy(9, 13, 13.5)
    candidate = [occ(13, 14), occ(9, 10), occ(11, 12)]
    found = find_conflicts(candidate, [same_start_high, long_block, same_start_low, long_block])
    assert found == [
        conflict_of(long_block),
        conflict_of(same_start_low),
        conflict_of(same_start_high),
    ]


def test_no_candidate_or_no_busy_means_no_conflicts() -> None:
    assert find_conflicts([], [busy(1, 9, 10)]) == []
    assert find_conflicts([occ(9, 10)], []) == []


def test_large_inputs_are_fast() -> None:
    candidate = [occ(9, 10, day) for day in range(2000)]
    calendar = [busy(day, 12, 13, day) for day in range(2000)] + [busy(99999, 9.5, 10.5, 1999)]
    assert find_conflicts(candidate, calendar) == [conflict_of(busy(99999, 9.5, 10.5, 1999))]


# --------------------------------------------------------------------------- find_shift


def test_shift_is_zero_when_free() -> None:
    assert find_shift([occ(9, 10)], [busy(1, 10, 11)], latest_start=at(17)) == timedelta(0)


def test_shift_to_the_end_of_the_blocking_event() -> None:
    assert find_shift([occ(9, 10)], [busy(1, 9.5, 10.5)], latest_start=at(17)) == hours(1.5)


def test_shift_skips_a_gap_that_is_too_small() -> None:
    # The 15-minute gap at 10:30 cannot hold the one-hour event; 12:00 can.
    calendar = [busy(1, 9.5, 10.5), busy(2, 10.75, 12)]
    assert find_shift([occ(9, 10)], calendar, latest_start=at(17)) == hours(3)


def test_shift_uses_a_gap_that_fits_exactly() -> None:
    calendar = [busy(1, 9.5, 10.5), busy(2, 11.5, 12)]
    assert find_shift([occ(9, 10)], calendar, latest_start=at(17)) == hours(1.5)


def test_no_shift_before_latest_start() -> None:
    calendar = [busy(1, 9.5, 10.5), busy(2, 10.75, 12)]
    assert find_shift([occ(9, 10)], calendar, latest_start=at(11.9)) is None
    # latest_start itself is allowed.
    assert find_shift([occ(9, 10)], calendar, latest_start=at(12)) == hours(3)


def test_no_shift_when_latest_start_is_before_the_candidate() -> None:
    assert find_shift([occ(9, 10)], [], latest_start=at(8)) is None


def test_recurring_candidate_moves_as_a_whole() -> None:
    daily = [occ(9, 10, day) for day in range(3)]
    calendar = [busy(1, 10, 11, day=0), busy(2, 9, 11, day=1), busy(3, 11, 12, day=2)]
    # +2h clears Monday and Tuesday but hits Wednesday's 11:00-12:00; +3h clears all.
    assert find_shift(daily, calendar, latest_start=at(17)) == hours(3)
    shifted = [Occurrence(o.start + hours(3), o.end + hours(3)) for o in daily]
    assert find_conflicts(shifted, calendar) == []


def test_empty_candidate_needs_no_shift() -> None:
    assert find_shift([], [busy(1, 9, 10)], latest_start=at(0)) == timedelta(0)


# --------------------------------------------------------------------------- free placements


CROWDED = [busy(1, 9.5, 10.5), busy(2, 10.75, 12), busy(3, 13.5, 14), busy(4, 15, 15.5)]


def test_the_first_free_placement_begins_where_a_busy_event_ends() -> None:
    # 10:30 is too short a gap before 10:45; 12:00 is the first that fits.
    assert find_shift([occ(9, 10)], CROWDED, latest_start=at(20)) == hours(3)
    assert find_conflicts([Occurrence(at(12), at(13))], CROWDED) == []


def test_latest_start_bounds_the_search() -> None:
    assert find_shift([occ(9, 10)], CROWDED, latest_start=at(12)) == hours(3)
    assert find_shift([occ(9, 10)], CROWDED, latest_start=at(11.5)) is None
    assert find_shift([occ(9, 10)], [], latest_start=at(17)) == timedelta(0)


# --------------------------------------------------------------------------- properties

minutes = st.integers(0, 24 * 60)


@st.composite
def intervals(draw: st.DrawFn) -> tuple[datetime, datetime]:
    """A short interval on a minute grid over a day, possibly empty."""
    start = draw(minutes)
    length = draw(st.integers(0, 180))
    return BASE + timedelta(minutes=start), BASE + timedelta(minutes=start + length)


candidates = st.lists(intervals(), max_size=6).map(
    lambda items: sorted((Occurrence(s, e) for s, e in items), key=lambda o: o.start)
)
calendars = st.lists(
    st.tuples(st.integers(1, 5), intervals()).map(
        lambda item: Busy(item[0], f"event {item[0]}", item[1][0], item[1][1])
    ),
    max_size=12,
)


def brute_conflicts(candidate: list[Occurrence], calendar: list[Busy]) -> list[Conflict]:
    """The n*m definition of find_conflicts."""
    found = {
        conflict_of(item)
        for item in calendar
        for one in candidate
        if one.start < item.end and item.start < one.end
    }
    return sorted(found, key=lambda c: (c.occurrence_start, c.event_id, c.occurrence_end, c.title))


def shifted(candidate: list[Occurrence], delta: timedelta) -> list[Occurrence]:
    """Every occurrence moved by ``delta``."""
    return [Occurrence(o.start + delta, o.end + delta) for o in candidate]


def tried_deltas(candidate: list[Occurrence], calendar: list[Busy]) -> list[timedelta]:
    """0 and every positive busy.end - occurrence.start, ascending."""
    deltas = {timedelta(0)}
    deltas |= {item.end - one.start for item in calendar for one in candidate}
    return sorted(delta for delta in deltas if delta >= timedelta(0))


@PROPERTY
@given(candidates, calendars)
def test_find_conflicts_matches_brute_force(
    candidate: list[Occurrence], calendar: list[Busy]
) -> None:
    assert find_conflicts(candidate, calendar) == brute_conflicts(candidate, calendar)


@PROPERTY
@given(candidates.filter(bool), calendars, st.integers(0, 36 * 60))
def test_find_shift_is_the_first_free_tried_delta(
    candidate: list[Occurrence], calendar: list[Busy], latest_minutes: int
) -> None:
    latest_start = BASE + timedelta(minutes=latest_minutes)
    allowed = [
        delta
        for delta in tried_deltas(candidate, calendar)
        if candidate[0].start + delta <= latest_start
    ]
    free = [delta for delta in allowed if not brute_conflicts(shifted(candidate, delta), calendar)]
    result = find_shift(candidate, calendar, latest_start=latest_start)
    if result is None:
        assert free == []
        return
    assert candidate[0].start + result <= latest_start
    assert brute_conflicts(shifted(candidate, result), calendar) == []
    # No smaller tried delta is conflict-free.
    assert result == free[0]
