"""Three-way merge of event snapshots, field by field.

``base`` is the version a client started editing from, ``mine`` is ``base``
with the client's edits, and ``theirs`` is the current stored version.  Each
field is compared as a whole value (text is never merged word by word):

* only mine changed           -> take mine (listed in ``applied``)
* only theirs changed         -> keep theirs
* both changed to one value   -> that value, no conflict
* both changed differently    -> conflict; ``merged`` keeps theirs
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from calendo.history.diff import CONTENT_FIELDS, FIELD_DEFAULTS

# Distinguishes "key absent" from "key present with value None".
_MISSING: Any = object()


@dataclass(frozen=True)
class FieldConflict:
    """A field that both sides changed to different values."""

    field: str
    base: Any
    mine: Any
    theirs: Any


@dataclass(frozen=True)
class MergeResult:
    """Outcome of a three-way merge."""

    merged: dict[str, Any]
    conflicts: list[FieldConflict]
    # Fields whose value was taken from mine.  A field both sides changed to
    # the same value is not listed: the current version already has it.
    applied: list[str]


def _copy(value: Any) -> Any:
    """Return a copy of list values so results never alias their inputs."""
    return list(value) if isinstance(value, list) else value


def _fields(*snapshots: Mapping[str, Any]) -> Iterator[str]:
    """Yield content fields in canonical order, then any extra keys in first-seen order."""
    yield from CONTENT_FIELDS
    seen = set(CONTENT_FIELDS)
    for snapshot in snapshots:
        for key in snapshot:
            if key not in seen:
                seen.add(key)
                yield key


def _set(merged: dict[str, Any], field: str, value: Any) -> None:
    """Set a field, or drop it when the winning side does not have it."""
    if value is _MISSING:
        merged.pop(field, None)
    else:
        merged[field] = _copy(value)


def _get(snapshot: Mapping[str, Any], field: str) -> Any:
    """A field's value, ``_MISSING`` when absent; a field with a default
    (``diff.FIELD_DEFAULTS``) that a snapshot older than it lacks, or holds null for, reads as
    that default."""
    value = snapshot.get(field, _MISSING)
    if field in FIELD_DEFAULTS and value in (_MISSING, None):
        return _copy(FIELD_DEFAULTS[field])
    return value


def three_way_merge(
    base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> MergeResult:
    """Merge the client's edits (base -> mine) into the current version (theirs).

    A snapshot older than a field (``diff.FIELD_DEFAULTS``) holds that field's default."""
    merged = {key: _copy(value) for key, value in theirs.items()}
    conflicts: list[FieldConflict] = []
    applied: list[str] = []
    for field in _fields(base, mine, theirs):
        b, m, t = (_get(snapshot, field) for snapshot in (base, mine, theirs))
        if m in (b, t):
            # Client did not touch it, or already agrees with the current value.
            continue
        if t == b:
            _set(merged, field, m)
            applied.append(field)
            continue
        conflicts.append(
            FieldConflict(
                field=field,
                base=None if b is _MISSING else _copy(b),
                mine=None if m is _MISSING else _copy(m),
                theirs=None if t is _MISSING else _copy(t),
            )
        )
    return MergeResult(merged=merged, conflicts=conflicts, applied=applied)
