"""What the calendar engine's tests share."""

from __future__ import annotations

from calendo.calendar import recurrence


class Walked:
    """Candidates walked (``recurrence.walk_stats``) while the context is open."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> Walked:
        self._before = recurrence.walk_stats.candidates
        return self

    def __exit__(self, *exc: object) -> None:
        self.count = recurrence.walk_stats.candidates - self._before
