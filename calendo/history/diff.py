"""Field-level and word-level diffs between event snapshots.

A snapshot is a JSON-compatible dict holding every field of ``CONTENT_FIELDS``.
A diff ("changes") is a list of dicts, one per differing field, in
``CONTENT_FIELDS`` order::

    {"field": "title", "op": "changed", "old": "Standup", "new": "Daily sync",
     "text_diff": [{"op": "delete", "text": "Standup"},
                   {"op": "insert", "text": "Daily sync"}]}

``op`` is ``"added"`` when the old value is empty (None, "" or []) and the new
one is not, ``"removed"`` for the opposite, and ``"changed"`` otherwise.
Text fields additionally carry a word-level ``text_diff``.

Bounded work.  Every text diff runs on ``calendo.history.matcher`` (Myers' O(ND)
algorithm) with a ``Budget`` of matcher steps; one call of ``diff_snapshots``
shares ``DIFF_BUDGET`` steps among all its text fields, shortest first, so one
diff costs O(DIFF_BUDGET + size of its texts) whatever the texts are (about
0.15 s of CPU at most).  A field whose word-level diff would cost more is
compared line by line instead, and if even that is over budget, shown as a
whole (delete the old text, insert the new).  Such a degraded record carries
``"granularity": "line"`` or ``"field"``; an exact word-level record has no
``granularity`` key, and ``is_degraded(changes)`` tells whether any field was
degraded.  ``text_diff`` reconstructs both texts exactly at every granularity.

Everything here is pure: no I/O, inputs are never mutated, outputs never
share mutable lists with inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from calendo.history.matcher import Budget, opcodes

Granularity = Literal["word", "line", "field"]

CONTENT_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "start_time",
    "end_time",
    "timezone",
    "location",
    "is_recurring",
    "recurrence_pattern",
    "recurrence_exceptions",
    "recurrence_dates",
    "transparency",
    "recurrence_overrides",
    "all_day",
    "start_date",
    "end_date",
)
# Fields added after versions were first written (migrations 0006, 0007, 0008): a snapshot
# stored before lacks them, and means this value (an opaque timed event with no extra dates
# and no overrides).
FIELD_DEFAULTS: dict[str, Any] = {
    "recurrence_dates": [],
    "transparency": "opaque",
    "recurrence_overrides": [],
    "all_day": False,
    "start_date": None,
    "end_date": None,
}
TEXT_FIELDS: tuple[str, ...] = ("title", "description", "location")

# Words, runs of whitespace, and single punctuation characters.  Every
# character falls into exactly one class, so the tokens always concatenate
# back to the original string.
_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")
# Lines with their line break; the last line may have none.
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")

DIFF_BUDGET = 300_000
"""Matcher steps one diff (all text fields of one ``diff_snapshots`` call) may spend."""
# Share of what is left that a word-level attempt may use; the rest stays for the line level.
_WORD_SHARE = 0.75


def is_empty(value: Any) -> bool:
    """Return True for the values that count as "no value": None, "" and []."""
    # Deliberately not plain falsiness: False and 0 are real values.
    return value is None or value == "" or value == []


def _copy(value: Any) -> Any:
    """Return a copy of list values so results never alias their inputs."""
    return list(value) if isinstance(value, list) else value


def field_value(snapshot: Mapping[str, Any], field: str) -> Any:
    """A snapshot's value of ``field``; a field it lacks (or holds null for) that has a
    default (``FIELD_DEFAULTS``: a snapshot older than the field) reads as that default."""
    value = snapshot.get(field)
    if value is None and field in FIELD_DEFAULTS:
        return _copy(FIELD_DEFAULTS[field])
    return value


def complete(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``snapshot`` with every ``FIELD_DEFAULTS`` field it lacks set to its default."""
    done = dict(snapshot)
    for field in FIELD_DEFAULTS:
        done[field] = field_value(snapshot, field)
    return done


def changed_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """List the content fields that differ between two snapshots, in field order."""
    if old is None:
        # A creation "changes" every field that has a value.
        return [
            f
            for f in CONTENT_FIELDS
            if not is_empty(new.get(f)) and new.get(f) != FIELD_DEFAULTS.get(f)
        ]
    return [f for f in CONTENT_FIELDS if field_value(old, f) != field_value(new, f)]


def _field_op(old_value: Any, new_value: Any) -> str:
    """Classify a field change as added, removed or changed."""
    if is_empty(old_value) and not is_empty(new_value):
        return "added"
    if is_empty(new_value) and not is_empty(old_value):
        return "removed"
    return "changed"


def _field_change(
    field: str,
    old_value: Any,
    new_value: Any,
    text: tuple[list[dict[str, str]], Granularity] | None,
) -> dict[str, Any]:
    """Build the change record for one differing field (``text``: its text diff, if a text)."""
    change: dict[str, Any] = {
        "field": field,
        "op": _field_op(old_value, new_value),
        "old": _copy(old_value),
        "new": _copy(new_value),
    }
    if text is not None:
        change["text_diff"], granularity = text
        if granularity != "word":
            change["granularity"] = granularity
    return change


def _text_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def diff_snapshots(
    old: Mapping[str, Any], new: Mapping[str, Any], budget: Budget | None = None
) -> list[dict[str, Any]]:
    """Return one change record per differing content field, in field order.

    All text fields share ``budget`` (a fresh ``DIFF_BUDGET`` one by default), the shortest
    texts first, so a long description over the budget never costs a title its word diff.
    """
    budget = Budget(DIFF_BUDGET) if budget is None else budget
    fields = changed_fields(old, new)
    texts = sorted(
        (f for f in fields if f in TEXT_FIELDS),
        key=lambda f: _text_length(old.get(f)) + _text_length(new.get(f)),
    )
    text_diffs = {f: text_diff(old.get(f) or "", new.get(f) or "", budget) for f in texts}
    return [
        _field_change(
            field, field_value(old, field), field_value(new, field), text_diffs.get(field)
        )
        for field in fields
    ]


def is_degraded(changes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any text field of a diff was compared more coarsely than word by word."""
    return any(change.get("granularity", "word") != "word" for change in changes)


def _tokenize(text: str) -> list[str]:
    """Split text into words, whitespace runs and punctuation characters."""
    return _TOKEN_RE.findall(text)


def _lines(text: str) -> list[str]:
    """Split text into lines, each keeping its line break."""
    return _LINE_RE.findall(text)


_LEVELS: tuple[tuple[Granularity, Callable[[str], list[str]], float], ...] = (
    ("word", _tokenize, _WORD_SHARE),
    ("line", _lines, 1.0),
)


def _raw_chunks(old: str, new: str, budget: Budget) -> tuple[list[tuple[str, str]], Granularity]:
    """(op, text) chunks at the finest level the budget affords, and that level."""
    for granularity, split, share in _LEVELS:
        a, b = split(old), split(new)
        attempt = Budget(int(budget.remaining * share))
        codes = opcodes(a, b, attempt)
        budget.spent += attempt.spent
        if codes is not None:
            chunks = [
                (tag, "".join(b[j1:j2] if tag == "insert" else a[i1:i2]))
                for tag, i1, i2, j1, j2 in codes
            ]
            return chunks, granularity
    whole = [("delete", old), ("insert", new)]
    return [(op, text) for op, text in whole if text], "field"


def _flush(out: list[dict[str, str]], deleted: list[str], inserted: list[str]) -> None:
    """Emit the pending change block as one delete followed by one insert."""
    if deleted:
        out.append({"op": "delete", "text": "".join(deleted)})
    if inserted:
        out.append({"op": "insert", "text": "".join(inserted)})
    deleted.clear()
    inserted.clear()


def word_diff(old: str, new: str, budget: Budget | None = None) -> list[dict[str, str]]:
    """Return a word-level diff as merged equal/delete/insert chunks (coarser over budget)."""
    return text_diff(old, new, Budget(DIFF_BUDGET) if budget is None else budget)[0]


def text_diff(old: str, new: str, budget: Budget) -> tuple[list[dict[str, str]], Granularity]:
    """Diff two texts within ``budget``: merged chunks and the granularity they have."""
    chunks, granularity = _raw_chunks(old, new, budget)
    out: list[dict[str, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for index, (op, text) in enumerate(chunks):
        if op == "delete":
            deleted.append(text)
        elif op == "insert":
            inserted.append(text)
        elif deleted and inserted and text.isspace() and index + 1 < len(chunks):
            # Readability (as in MediaWiki): a lone space between two replaced
            # words joins them, so "the quick" -> "a slow" reads as one
            # replacement instead of two interleaved ones.
            deleted.append(text)
            inserted.append(text)
        else:
            _flush(out, deleted, inserted)
            out.append({"op": "equal", "text": text})
    _flush(out, deleted, inserted)
    return out, granularity
