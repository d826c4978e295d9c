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

Everything here is pure: no I/O, inputs are never mutated, outputs never
share mutable lists with inputs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

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
)
TEXT_FIELDS: tuple[str, ...] = ("title", "description", "location")

# Words, runs of whitespace, and single punctuation characters.  Every
# character falls into exactly one class, so the tokens always concatenate
# back to the original string.
_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")

_FLIPPED_FIELD_OPS = {"added": "removed", "removed": "added", "changed": "changed"}
_FLIPPED_TEXT_OPS = {"insert": "delete", "delete": "insert", "equal": "equal"}


def is_empty(value: Any) -> bool:
    """Return True for the values that count as "no value": None, "" and []."""
    # Deliberately not plain falsiness: False and 0 are real values.
    return value is None or value == "" or value == []


def _copy(value: Any) -> Any:
    """Return a copy of list values so results never alias their inputs."""
    return list(value) if isinstance(value, list) else value


def changed_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """List the content fields that differ between two snapshots, in field order."""
    if old is None:
        # A creation "changes" every field that has a value.
        return [f for f in CONTENT_FIELDS if not is_empty(new.get(f))]
    return [f for f in CONTENT_FIELDS if old.get(f) != new.get(f)]


def _field_op(old_value: Any, new_value: Any) -> str:
    """Classify a field change as added, removed or changed."""
    if is_empty(old_value) and not is_empty(new_value):
        return "added"
    if is_empty(new_value) and not is_empty(old_value):
        return "removed"
    return "changed"


def _field_change(field: str, old_value: Any, new_value: Any) -> dict[str, Any]:
    """Build the change record for one differing field."""
    change: dict[str, Any] = {
        "field": field,
        "op": _field_op(old_value, new_value),
        "old": _copy(old_value),
        "new": _copy(new_value),
    }
    if field in TEXT_FIELDS:
        change["text_diff"] = word_diff(old_value or "", new_value or "")
    return change


def diff_snapshots(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one change record per differing content field, in field order."""
    return [
        _field_change(field, old.get(field), new.get(field)) for field in changed_fields(old, new)
    ]


def _tokenize(text: str) -> list[str]:
    """Split text into words, whitespace runs and punctuation characters."""
    return _TOKEN_RE.findall(text)


def _raw_chunks(old: str, new: str) -> list[tuple[str, str]]:
    """Return (op, text) chunks from difflib, with replace split into delete+insert."""
    a, b = _tokenize(old), _tokenize(new)
    # autojunk would treat frequent tokens (spaces!) as junk on long texts.
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    chunks: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "delete", "replace") and i1 < i2:
            chunks.append(("equal" if tag == "equal" else "delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace") and j1 < j2:
            chunks.append(("insert", "".join(b[j1:j2])))
    return chunks


def _flush(out: list[dict[str, str]], deleted: list[str], inserted: list[str]) -> None:
    """Emit the pending change block as one delete followed by one insert."""
    if deleted:
        out.append({"op": "delete", "text": "".join(deleted)})
    if inserted:
        out.append({"op": "insert", "text": "".join(inserted)})
    deleted.clear()
    inserted.clear()


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """Return a word-level diff as merged equal/delete/insert chunks."""
    chunks = _raw_chunks(old, new)
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
    return out


def apply_changes(
    snapshot: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Return a copy of snapshot with every change's new value applied."""
    # The recorded "old" values are not checked: history rows are trusted,
    # and rollback must work even if a snapshot was normalised later.
    result = {key: _copy(value) for key, value in snapshot.items()}
    for change in changes:
        result[change["field"]] = _copy(change["new"])
    return result


def _reverse_text_diff(text_diff: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Swap inserts and deletes, keeping deletes before inserts in each block."""
    out: list[dict[str, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for chunk in text_diff:
        op = _FLIPPED_TEXT_OPS[chunk["op"]]
        if op == "delete":
            deleted.append(chunk["text"])
        elif op == "insert":
            inserted.append(chunk["text"])
        else:
            _flush(out, deleted, inserted)
            out.append({"op": "equal", "text": chunk["text"]})
    _flush(out, deleted, inserted)
    return out


def _reverse_change(change: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one a->b change record into the matching b->a record."""
    reversed_change = dict(change)
    reversed_change["op"] = _FLIPPED_FIELD_OPS[change["op"]]
    reversed_change["old"] = _copy(change["new"])
    reversed_change["new"] = _copy(change["old"])
    if "text_diff" in change:
        reversed_change["text_diff"] = _reverse_text_diff(change["text_diff"])
    return reversed_change


def reverse(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Given the diff from a to b, return the diff from b to a."""
    return [_reverse_change(change) for change in changes]
