"""Test oracles for diffs: apply a diff to a snapshot, and turn a diff around.

The service never needs either (a rollback writes the old snapshot itself), so they live with
the tests, where they check that a diff says exactly what changed: applying the diff from a to
b to a gives b, and the reverse of the reverse is the diff itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_FLIPPED_FIELD_OPS = {"added": "removed", "removed": "added", "changed": "changed"}
_FLIPPED_TEXT_OPS = {"insert": "delete", "delete": "insert", "equal": "equal"}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def apply_changes(
    snapshot: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of ``snapshot`` with every change's new value applied."""
    result = {key: _copy(value) for key, value in snapshot.items()}
    for change in changes:
        result[change["field"]] = _copy(change["new"])
    return result


def _reverse_text_diff(text_diff: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Swap inserts and deletes, keeping each block's delete before its insert."""
    out: list[dict[str, str]] = []
    block: dict[str, list[str]] = {"delete": [], "insert": []}

    def close_block() -> None:
        out.extend(
            {"op": op, "text": "".join(block[op])} for op in ("delete", "insert") if block[op]
        )
        block["delete"], block["insert"] = [], []

    for chunk in text_diff:
        op = _FLIPPED_TEXT_OPS[chunk["op"]]
        if op == "equal":
            close_block()
            out.append({"op": "equal", "text": chunk["text"]})
        else:
            block[op].append(chunk["text"])
    close_block()
    return out


def reverse(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Given the diff from a to b, the diff from b to a."""
    reversed_changes = []
    for change in changes:
        turned = {
            **change,
            "op": _FLIPPED_FIELD_OPS[change["op"]],
            "old": _copy(change["new"]),
            "new": _copy(change["old"]),
        }
        if "text_diff" in change:
            turned["text_diff"] = _reverse_text_diff(change["text_diff"])
        reversed_changes.append(turned)
    return reversed_changes
