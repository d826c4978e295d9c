"""An expansion in steps (``calendar.stepped``, driven by a ``Pacer``) equals the one-shot
``recurrence.expand``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendo.calendar import recurrence, stepped
from calendo.core.cooperative import Pacer

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERIES = [
    recurrence.Series(START, START + timedelta(minutes=30), "UTC", "FREQ=DAILY", ()),
    # Occurrences that run into the next ones (3 h long, every hour).
    recurrence.Series(START, START + timedelta(hours=3), "UTC", "FREQ=HOURLY", ()),
    # Across the DST change in Europe/Paris, with exceptions and a COUNT.
    recurrence.Series(
        START,
        START + timedelta(hours=1),
        "Europe/Paris",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=40",
        (START + timedelta(days=2), START + timedelta(days=7)),
    ),
    recurrence.Series(START, START + timedelta(hours=1), "UTC", None, ()),
]


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("limit", [1, 7, 50, 1000])
async def test_paced_expansion_equals_one_shot(
    series: recurrence.Series, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stepped, "STEP", 3)  # many steps
    window = (START + timedelta(hours=5), START + timedelta(days=120))
    pacer = Pacer(budget=0.0)  # hand back at every tick
    paced = await pacer.drive(stepped.expansion(series, *window, limit=limit))
    assert paced == recurrence.expand(series, *window, limit=limit)
    if len(paced.occurrences) > 3:  # more than one step: the loop was handed back between
        assert pacer.yields > 0


async def test_pacer_yields_only_when_budget_spent() -> None:
    lazy = Pacer(budget=3600.0)
    assert await lazy.map(str, range(100), every=10) == [str(i) for i in range(100)]
    assert lazy.yields == 0
    eager = Pacer(budget=0.0)
    await eager.map(str, range(100), every=10)
    assert eager.yields == 10
