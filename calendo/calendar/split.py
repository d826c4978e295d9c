"""Splitting a series at one of its occurrences ("this and following"), as pure values.

``split(series, at)`` gives two series that together have exactly the occurrences of the
original: the *head* ends before ``at`` (its rule gets an ``UNTIL`` just before it, in place
of any ``COUNT``), the *tail* starts at ``at`` with the same rule (a ``COUNT`` reduced by the
occurrences the head keeps). Exceptions, extra dates and overrides go to the side their
instant falls on. ``at`` must be an occurrence of the rule itself, after the first one: a
tail starting anywhere else would not produce the same instants (a rule's phase hangs on its
start), and a split at the first occurrence is an edit of the whole series.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from calendo.calendar.recurrence import RecurrenceError, Series, expand
from calendo.calendar.rrule import format_rule, parse_text

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Split:
    """The two series a split makes."""

    head: Series
    tail: Series


def rule_occurrence(series: Series, at: datetime) -> bool:
    """Whether the series' rule (not an extra date) gives an occurrence starting at ``at``."""
    if series.rule is None:
        return False
    plain = replace(series, rdates=(), exdates=(), overrides=())
    found = expand(plain, at, at + _INSTANT, limit=10_000).occurrences
    return any(o.start == at for o in found)


def split(series: Series, at: datetime) -> Split:
    """The head (before ``at``) and the tail (from ``at``) of a series; RecurrenceError when
    ``at`` is not one of its rule's occurrences after the first."""
    if series.rule is None:
        raise RecurrenceError("only a recurring series can be split")
    at = at.astimezone(UTC)
    if at <= series.start:
        raise RecurrenceError(
            "the split point is the series' first occurrence: edit the whole series instead"
        )
    if at in series.exdates or not rule_occurrence(series, at):
        raise RecurrenceError(
            "the split point must be an occurrence of the series' rule (not a cancelled one)"
        )
    rule = parse_text(series.rule)
    # UNTIL has whole seconds; the rule's walk compares whole seconds too (a start's
    # sub-second part is added back after), so the second before ``at`` keeps every earlier
    # occurrence and drops ``at``.
    until = (at - timedelta(seconds=1)).replace(microsecond=0)
    head_rule = format_rule(replace(rule, until=until, count=None))
    tail_rule = series.rule
    if rule.count is not None:
        plain = replace(series, rdates=(), exdates=(), overrides=())
        kept = len(expand(plain, series.start - _INSTANT, at, limit=rule.count).occurrences)
        tail_rule = format_rule(replace(rule, count=rule.count - kept))
    duration = series.end - series.start
    head = replace(
        series,
        rule=head_rule,
        exdates=tuple(x for x in series.exdates if x < at),
        rdates=tuple(x for x in series.rdates if x < at),
        overrides=tuple(o for o in series.overrides if o.recurrence_id < at),
    )
    tail = replace(
        series,
        start=at,
        end=at + duration,
        rule=tail_rule,
        exdates=tuple(x for x in series.exdates if x >= at),
        rdates=tuple(x for x in series.rdates if x >= at),
        overrides=tuple(o for o in series.overrides if o.recurrence_id >= at),
    )
    return Split(head, tail)
