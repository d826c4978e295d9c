"""Every RRULE example of RFC 5545, section 3.8.5.3, expanded by Calendo as the RFC lists it.

Each example starts at the RFC's DTSTART in America/New_York (its "TZID=America/New_York") and
is checked against the occurrences the RFC prints, in that zone's wall-clock time (EDT and EST
alike: 09:00 stays 09:00 across the DST change). Finite rules are checked whole; rules that
run forever are checked over a window that covers what the RFC prints of them.

Where the reading differs from the printed text:

* "Every 3 hours from 9:00 AM to 5:00 PM on a specific day" prints ``UNTIL=19970902T170000Z``,
  which is 13:00 EDT and would end the series before the 15:00 it lists; verified erratum 3883
  corrects it to ``UNTIL=19970902T210000Z`` (17:00 EDT). The corrected rule gives the listed
  09:00, 12:00, 15:00; the misprinted one gives 09:00, 12:00 (tested too).
* "Every Friday the 13th, forever" starts on a DTSTART the rule would not produce (Tuesday
  2 September 1997) and removes it with an EXDATE. RFC 5545 counts DTSTART as the first
  instance whatever the rule says; Calendo, like dateutil, makes DTSTART an occurrence only when
  the rule produces it (``recurrence``'s module docstring, ``docs/api-notes.md``), so the
  series is the same with or without that EXDATE: both are tested.

Every other example's DTSTART is the rule's own first occurrence, so the two readings agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendo.calendar import recurrence

NEW_YORK = ZoneInfo("America/New_York")
# Far enough for every finite example; a forever example gives its own window end.
FOREVER = datetime(2201, 1, 2, tzinfo=UTC)


def on(year: int, month: int, *days: int, at: str = "09:00") -> list[str]:
    """The RFC's "(1997 9:00 AM EDT) September 2,4,6": wall-clock starts, as text."""
    return [f"{year:04d}-{month:02d}-{day:02d} {at}" for day in days]


def span(year: int, month: int, first: int, last: int, at: str = "09:00") -> list[str]:
    """The RFC's "September 2-30": every day from ``first`` to ``last``."""
    return on(year, month, *range(first, last + 1), at=at)


def times(year: int, month: int, day: int, *clocks: str) -> list[str]:
    """Several times on one day: "(September 2, 1997 EDT) 09:00,09:15"."""
    return [f"{year:04d}-{month:02d}-{day:02d} {clock}" for clock in clocks]


def every_20_minutes(day: int) -> list[str]:
    """9:00, 9:20, ... 16:40 on 1997-09-``day``."""
    clocks = [f"{hour:02d}:{minute:02d}" for hour in range(9, 17) for minute in (0, 20, 40)]
    return times(1997, 9, day, *clocks)


@dataclass(frozen=True)
class Example:
    """One RFC example: DTSTART (local, New York), the rule, and what the RFC prints."""

    dtstart: str
    rule: str
    expected: list[str]
    # For rules that run forever: the window checked ends here (New York wall clock).
    until: str | None = None
    exdates: tuple[str, ...] = ()


def flatten(*parts: list[str]) -> list[str]:
    return [item for part in parts for item in part]


FRIDAY_13THS = flatten(
    on(1998, 2, 13), on(1998, 3, 13), on(1998, 11, 13), on(1999, 8, 13), on(2000, 10, 13)
)
JANUARIES = flatten(*(span(year, 1, 1, 31) for year in (1998, 1999, 2000)))
TUESDAYS_AND_THURSDAYS = flatten(on(1997, 9, 2, 4, 9, 11, 16, 18, 23, 25, 30), on(1997, 10, 2))
EVERY_20_MINUTES = every_20_minutes(2) + every_20_minutes(3)

EXAMPLES: dict[str, Example] = {
    "daily for 10 occurrences": Example(
        "1997-09-02 09:00", "FREQ=DAILY;COUNT=10", span(1997, 9, 2, 11)
    ),
    "daily until December 24, 1997": Example(
        "1997-09-02 09:00",
        "FREQ=DAILY;UNTIL=19971224T000000Z",
        flatten(
            span(1997, 9, 2, 30),
            span(1997, 10, 1, 25),
            span(1997, 10, 26, 31),
            span(1997, 11, 1, 30),
            span(1997, 12, 1, 23),
        ),
    ),
    "every other day, forever": Example(
        "1997-09-02 09:00",
        "FREQ=DAILY;INTERVAL=2",
        flatten(
            on(1997, 9, *range(2, 31, 2)),
            on(1997, 10, *range(2, 25, 2)),
            on(1997, 10, 26, 28, 30),
            on(1997, 11, *range(1, 30, 2)),
            on(1997, 12, 1, 3),
        ),
        until="1997-12-04 00:00",
    ),
    "every 10 days, 5 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=DAILY;INTERVAL=10;COUNT=5",
        flatten(on(1997, 9, 2, 12, 22), on(1997, 10, 2, 12)),
    ),
    "every day in January, for 3 years (yearly)": Example(
        "1998-01-01 09:00",
        "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
        JANUARIES,
    ),
    "every day in January, for 3 years (daily)": Example(
        "1998-01-01 09:00",
        "FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1",
        JANUARIES,
    ),
    "weekly for 10 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;COUNT=10",
        flatten(on(1997, 9, 2, 9, 16, 23, 30), on(1997, 10, 7, 14, 21, 28), on(1997, 11, 4)),
    ),
    "weekly until December 24, 1997": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;UNTIL=19971224T000000Z",
        flatten(
            on(1997, 9, 2, 9, 16, 23, 30),
            on(1997, 10, 7, 14, 21, 28),
            on(1997, 11, 4, 11, 18, 25),
            on(1997, 12, 2, 9, 16, 23),
        ),
    ),
    "every other week, forever": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
        flatten(
            on(1997, 9, 2, 16, 30),
            on(1997, 10, 14, 28),
            on(1997, 11, 11, 25),
            on(1997, 12, 9, 23),
            on(1998, 1, 6, 20),
            on(1998, 2, 3, 17),
        ),
        until="1998-02-18 00:00",
    ),
    "weekly on Tuesday and Thursday for five weeks (until)": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
        TUESDAYS_AND_THURSDAYS,
    ),
    "weekly on Tuesday and Thursday for five weeks (count)": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH",
        TUESDAYS_AND_THURSDAYS,
    ),
    "every other week on Monday, Wednesday and Friday until December 24, 1997": Example(
        "1997-09-01 09:00",
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
        flatten(
            on(1997, 9, 1, 3, 5, 15, 17, 19, 29),
            on(1997, 10, 1, 3, 13, 15, 17, 27, 29, 31),
            on(1997, 11, 10, 12, 14, 24, 26, 28),
            on(1997, 12, 8, 10, 12, 22),
        ),
    ),
    "every other week on Tuesday and Thursday, for 8 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH",
        flatten(on(1997, 9, 2, 4, 16, 18, 30), on(1997, 10, 2, 14, 16)),
    ),
    "monthly on the first Friday for 10 occurrences": Example(
        "1997-09-05 09:00",
        "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
        flatten(
            on(1997, 9, 5),
            on(1997, 10, 3),
            on(1997, 11, 7),
            on(1997, 12, 5),
            on(1998, 1, 2),
            on(1998, 2, 6),
            on(1998, 3, 6),
            on(1998, 4, 3),
            on(1998, 5, 1),
            on(1998, 6, 5),
        ),
    ),
    "monthly on the first Friday until December 24, 1997": Example(
        "1997-09-05 09:00",
        "FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR",
        flatten(on(1997, 9, 5), on(1997, 10, 3), on(1997, 11, 7), on(1997, 12, 5)),
    ),
    "every other month on the first and last Sunday for 10 occurrences": Example(
        "1997-09-07 09:00",
        "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
        flatten(
            on(1997, 9, 7, 28),
            on(1997, 11, 2, 30),
            on(1998, 1, 4, 25),
            on(1998, 3, 1, 29),
            on(1998, 5, 3, 31),
        ),
    ),
    "monthly on the second-to-last Monday for 6 months": Example(
        "1997-09-22 09:00",
        "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
        flatten(
            on(1997, 9, 22),
            on(1997, 10, 20),
            on(1997, 11, 17),
            on(1997, 12, 22),
            on(1998, 1, 19),
            on(1998, 2, 16),
        ),
    ),
    "monthly on the third-to-the-last day, forever": Example(
        "1997-09-28 09:00",
        "FREQ=MONTHLY;BYMONTHDAY=-3",
        flatten(
            on(1997, 9, 28),
            on(1997, 10, 29),
            on(1997, 11, 28),
            on(1997, 12, 29),
            on(1998, 1, 29),
            on(1998, 2, 26),
        ),
        until="1998-03-01 00:00",
    ),
    "monthly on the 2nd and 15th for 10 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15",
        flatten(
            on(1997, 9, 2, 15),
            on(1997, 10, 2, 15),
            on(1997, 11, 2, 15),
            on(1997, 12, 2, 15),
            on(1998, 1, 2, 15),
        ),
    ),
    "monthly on the first and last day for 10 occurrences": Example(
        "1997-09-30 09:00",
        "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
        flatten(
            on(1997, 9, 30),
            on(1997, 10, 1, 31),
            on(1997, 11, 1, 30),
            on(1997, 12, 1, 31),
            on(1998, 1, 1, 31),
            on(1998, 2, 1),
        ),
    ),
    "every 18 months on the 10th thru 15th for 10 occurrences": Example(
        "1997-09-10 09:00",
        "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
        flatten(on(1997, 9, 10, 11, 12, 13, 14, 15), on(1999, 3, 10, 11, 12, 13)),
    ),
    "every Tuesday, every other month": Example(
        "1997-09-02 09:00",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
        flatten(
            on(1997, 9, 2, 9, 16, 23, 30),
            on(1997, 11, 4, 11, 18, 25),
            on(1998, 1, 6, 13, 20, 27),
            on(1998, 3, 3, 10, 17, 24, 31),
        ),
        until="1998-04-01 00:00",
    ),
    "yearly in June and July for 10 occurrences": Example(
        "1997-06-10 09:00",
        "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
        flatten(*(on(year, 6, 10) + on(year, 7, 10) for year in range(1997, 2002))),
    ),
    "every other year on January, February, and March for 10 occurrences": Example(
        "1997-03-10 09:00",
        "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
        flatten(
            on(1997, 3, 10),
            *(on(year, 1, 10) + on(year, 2, 10) + on(year, 3, 10) for year in (1999, 2001, 2003)),
        ),
    ),
    "every third year on the 1st, 100th, and 200th day for 10 occurrences": Example(
        "1997-01-01 09:00",
        "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
        flatten(
            on(1997, 1, 1),
            on(1997, 4, 10),
            on(1997, 7, 19),
            on(2000, 1, 1),
            on(2000, 4, 9),
            on(2000, 7, 18),
            on(2003, 1, 1),
            on(2003, 4, 10),
            on(2003, 7, 19),
            on(2006, 1, 1),
        ),
    ),
    "every 20th Monday of the year, forever": Example(
        "1997-05-19 09:00",
        "FREQ=YEARLY;BYDAY=20MO",
        flatten(on(1997, 5, 19), on(1998, 5, 18), on(1999, 5, 17)),
        until="1999-12-31 00:00",
    ),
    "Monday of week number 20, forever": Example(
        "1997-05-12 09:00",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        flatten(on(1997, 5, 12), on(1998, 5, 11), on(1999, 5, 17)),
        until="1999-12-31 00:00",
    ),
    "every Thursday in March, forever": Example(
        "1997-03-13 09:00",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=TH",
        flatten(on(1997, 3, 13, 20, 27), on(1998, 3, 5, 12, 19, 26), on(1999, 3, 4, 11, 18, 25)),
        until="1999-12-31 00:00",
    ),
    "every Thursday, but only during June, July, and August, forever": Example(
        "1997-06-05 09:00",
        "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
        flatten(
            on(1997, 6, 5, 12, 19, 26),
            on(1997, 7, 3, 10, 17, 24, 31),
            on(1997, 8, 7, 14, 21, 28),
            on(1998, 6, 4, 11, 18, 25),
            on(1998, 7, 2, 9, 16, 23, 30),
            on(1998, 8, 6, 13, 20, 27),
            on(1999, 6, 3, 10, 17, 24),
            on(1999, 7, 1, 8, 15, 22, 29),
            on(1999, 8, 5, 12, 19, 26),
        ),
        until="1999-12-31 00:00",
    ),
    "every Friday the 13th, forever (with the RFC's EXDATE)": Example(
        "1997-09-02 09:00",
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
        FRIDAY_13THS,
        until="2000-12-31 00:00",
        exdates=("1997-09-02 09:00",),
    ),
    # DTSTART (a Tuesday) is no Friday the 13th: Calendo never makes it an occurrence, so the
    # RFC's EXDATE changes nothing.
    "every Friday the 13th, forever (without EXDATE)": Example(
        "1997-09-02 09:00",
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
        FRIDAY_13THS,
        until="2000-12-31 00:00",
    ),
    "the first Saturday that follows the first Sunday of the month, forever": Example(
        "1997-09-13 09:00",
        "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
        flatten(
            on(1997, 9, 13),
            on(1997, 10, 11),
            on(1997, 11, 8),
            on(1997, 12, 13),
            on(1998, 1, 10),
            on(1998, 2, 7),
            on(1998, 3, 7),
            on(1998, 4, 11),
            on(1998, 5, 9),
            on(1998, 6, 13),
        ),
        until="1998-06-30 00:00",
    ),
    "every 4 years, the first Tuesday after a Monday in November (US election day)": Example(
        "1996-11-05 09:00",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
        flatten(on(1996, 11, 5), on(2000, 11, 7), on(2004, 11, 2)),
        until="2005-01-01 00:00",
    ),
    "the third instance of one of Tuesday, Wednesday or Thursday, for the next 3 months": Example(
        "1997-09-04 09:00",
        "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
        flatten(on(1997, 9, 4), on(1997, 10, 7), on(1997, 11, 6)),
    ),
    "the second-to-last weekday of the month": Example(
        "1997-09-29 09:00",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        flatten(
            on(1997, 9, 29),
            on(1997, 10, 30),
            on(1997, 11, 27),
            on(1997, 12, 30),
            on(1998, 1, 29),
            on(1998, 2, 26),
            on(1998, 3, 30),
        ),
        until="1998-04-01 00:00",
    ),
    # Erratum 3883: the RFC prints UNTIL=19970902T170000Z (13:00 EDT), which contradicts the
    # 15:00 it lists; 17:00 EDT is 21:00Z.
    "every 3 hours from 9:00 AM to 5:00 PM on a specific day (erratum 3883)": Example(
        "1997-09-02 09:00",
        "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T210000Z",
        times(1997, 9, 2, "09:00", "12:00", "15:00"),
    ),
    "every 3 hours, with the misprinted UNTIL (13:00 EDT)": Example(
        "1997-09-02 09:00",
        "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z",
        times(1997, 9, 2, "09:00", "12:00"),
    ),
    "every 15 minutes for 6 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=MINUTELY;INTERVAL=15;COUNT=6",
        times(1997, 9, 2, "09:00", "09:15", "09:30", "09:45", "10:00", "10:15"),
    ),
    "every hour and a half for 4 occurrences": Example(
        "1997-09-02 09:00",
        "FREQ=MINUTELY;INTERVAL=90;COUNT=4",
        times(1997, 9, 2, "09:00", "10:30", "12:00", "13:30"),
    ),
    "every 20 minutes from 9:00 AM to 4:40 PM every day (daily)": Example(
        "1997-09-02 09:00",
        "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
        EVERY_20_MINUTES,
        until="1997-09-04 00:00",
    ),
    "every 20 minutes from 9:00 AM to 4:40 PM every day (minutely)": Example(
        "1997-09-02 09:00",
        "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16",
        EVERY_20_MINUTES,
        until="1997-09-04 00:00",
    ),
    "WKST makes a difference: WKST=MO": Example(
        "1997-08-05 09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
        on(1997, 8, 5, 10, 19, 24),
    ),
    "WKST makes a difference: WKST=SU": Example(
        "1997-08-05 09:00",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
        on(1997, 8, 5, 17, 19, 31),
    ),
    "an invalid date (February 30) is ignored": Example(
        "2007-01-15 09:00",
        "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
        flatten(on(2007, 1, 15, 30), on(2007, 2, 15), on(2007, 3, 15, 30)),
    ),
}


def local(text: str) -> datetime:
    """A New York wall-clock time as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def expand(example: Example) -> recurrence.Expansion:
    start = local(example.dtstart)
    series = recurrence.Series(
        start,
        start + timedelta(minutes=1),
        "America/New_York",
        recurrence.normalize_rule(example.rule),
        tuple(local(value) for value in example.exdates),
    )
    recurrence.validate_series(series)  # accepted as a write would be
    end = local(example.until) if example.until else FOREVER
    return recurrence.expand(series, start, end, limit=5000)


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=list(EXAMPLES))
def test_rfc5545_example(example: Example) -> None:
    found = expand(example)
    walls = [o.start.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M") for o in found.occurrences]
    assert walls == example.expected
    assert not found.truncated
    # Wall-clock times hold across the DST change: every offset is EDT or EST.
    offsets = {o.start.astimezone(NEW_YORK).utcoffset() for o in found.occurrences}
    assert offsets <= {timedelta(hours=-4), timedelta(hours=-5)}


def test_every_example_of_the_rfc_is_here() -> None:
    # 3.8.5.3 has 38 examples, one of them (WKST) two rules; three are printed in two forms.
    # Two readings are added: Friday the 13th without its EXDATE, the 3-hour rule as printed.
    assert len(EXAMPLES) == 38 + 1 + 3 + 2


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=list(EXAMPLES))
def test_the_canonical_form_expands_the_same(example: Example) -> None:
    canonical = recurrence.normalize_rule(example.rule)
    assert recurrence.normalize_rule(canonical) == canonical
    again = Example(example.dtstart, canonical, example.expected, example.until, example.exdates)
    assert expand(again) == expand(example)
