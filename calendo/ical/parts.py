"""An import in parts: a file of any size the body limit admits, written a part at a time.

A file of up to ``CALENDO_IMPORT_PART_EVENTS`` events is one part: one unit of work, every
event or none. A larger one (a real calendar export runs to thousands of events and several
MB) is cut, in file order, into parts of that many events (a series and its ``RECURRENCE-ID``
instances are one event, never cut apart), and each part is its own unit of work. Between
parts the transaction ends, so another writer waits at most one part: on SQLite the
process's writer queue is held for one part, on PostgreSQL the calendar's lock and the
commit-order lock. Within a part the import hands the loop back between events.

What the whole file promises, part by part (docs/api-notes.md, "Larger files"):

- **Refusals found by reading** (a component that cannot be an event) are known before any
  part is written: with ``on_refusal=abort`` the file is refused whole, nothing written; the
  refusal lists what a dry run of the file refuses (the database's refusals too).
- **Refusals only the database can find** (a clash under ``reject``, a UID the caller can
  only view) are found as their part runs. With ``abort`` that part is rolled back and the
  import stops there (``Stopped``): the parts before it stay written, and the answer names
  them. Sending the corrected file again finishes the import without duplicating: re-import
  matches by UID, so the written events come back ``unchanged``.
- **A dry run** runs every part and rolls each back. A later part is checked against the
  events the earlier parts would create (``importing.Placed``), so clashes across parts are
  found; it does not see an earlier part's update of an existing event (it is checked
  against that event as it stands).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from calendo.core.db import Database
from calendo.core.uow import UnitOfWork
from calendo.events.service import WriteContext
from calendo.ical import importing
from calendo.ical.reading import Item


class _RolledBack(Exception):
    """Leaves a part's unit of work so that it rolls back, carrying the part's report."""

    def __init__(self, report: importing.Report) -> None:
        super().__init__("rolled back")
        self.report = report


class Stopped(Exception):
    """A real ``abort`` import that stopped at a part with a refusal: that part rolled back.
    ``written``: what the parts before it wrote (committed); ``refused``: the refusals that
    stopped it; ``parts_written``: how many parts stay written."""

    def __init__(
        self, written: importing.Report, refused: list[dict[str, Any]], parts_written: int
    ) -> None:
        super().__init__("import stopped")
        self.written, self.refused, self.parts_written = written, refused, parts_written


def cut(items: Sequence[Item], size: int) -> Iterator[list[Item]]:
    """The file's events in parts of ``size``, in file order (an event is one ``Item``: a
    series with its overrides, or a component reading refused). An empty file is one part."""
    for first in range(0, max(len(items), 1), size):
        yield list(items[first : first + size])


async def run(
    db: Database,
    *,
    ctx: WriteContext,
    items: Sequence[Item],
    part_events: int,
    dry_run: bool,
    abort: bool,
) -> importing.Report:
    """Import ``items`` part by part (module docstring); what every part did, or (dry) would
    do. A real ``abort`` import raises ``Stopped``: before writing anything when reading
    refused a component, else at the first part with a refusal."""
    if abort and not dry_run and any(item.refusal is not None for item in items):
        # Refused whole before anything is written, with every refusal a dry run finds.
        checked = await run(
            db, ctx=ctx, items=items, part_events=part_events, dry_run=True, abort=True
        )
        raise Stopped(importing.Report(), checked.refused, 0)
    total = importing.Report()
    for number, part in enumerate(cut(items, part_events)):
        earlier = total.placed if dry_run else None
        report, committed = await _part(db, ctx, part, earlier, dry_run=dry_run, abort=abort)
        if not committed and not dry_run:
            raise Stopped(total, report.refused, number)
        if dry_run:
            report.rolled_back()
        total.extend(report)
    return total


async def _part(
    db: Database,
    ctx: WriteContext,
    items: list[Item],
    earlier: Sequence[importing.Placed] | None,
    *,
    dry_run: bool,
    abort: bool,
) -> tuple[importing.Report, bool]:
    """One part in one unit of work, and whether it was committed: rolled back for a dry
    run, or when it refused something and the caller asked to ``abort``."""
    try:
        async with UnitOfWork.write(db) as unit:
            report = await importing.run(unit, ctx=ctx, items=items, earlier=earlier)
            if dry_run or (report.refused and abort):
                raise _RolledBack(report)
    except _RolledBack as rolled:
        return rolled.report, False
    return report, True
